"""A real ``dedup serve`` on a free loopback port, over the hand-made check archive."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from dedup.check.log import CheckLog
from tests.check.archive import build_check_archive
from tests.conftest import REPO

TOKEN = "sched-token-0123456789abcdef"
OTHER = "ehr-token-0123456789abcdef00"
RECORDER = "integration-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def audited(archive: Path, done: Callable[[list[dict[str, object]]], bool],
            timeout: float = 10) -> list[dict[str, object]]:
    """The check log's rows once ``done(rows)`` holds: the server writes them in the background."""
    deadline = time.monotonic() + timeout
    while not done(rows := CheckLog(archive).rows("checks")):
        assert time.monotonic() < deadline, "the check never reached the audit log"
        time.sleep(0.05)
    return rows


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(archive: Path, log_name: str = "serve",
                   preexec: Callable[[], None] | None = None, **env: str) -> Iterator[str]:
    """Start ``dedup serve`` in a subprocess; yield its base URL once /healthz answers ok.

    Its output goes to ``<archive>.<log_name>.log``; ``preexec`` runs in the child first.
    """
    port = free_port()
    log_path = archive.with_suffix(f".{log_name}.log")
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "dedup", "serve", "--archive", str(archive), "--port",
         str(port)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT, preexec_fn=preexec,
        env={**os.environ, "DEDUP_SERVICE_TOKENS": f"sched:{TOKEN},{OTHER}",
             "DEDUP_CHECK_RELOAD_SECONDS": "0.2", "DEDUP_CHECK_MAX_BODY_BYTES": "4096", **env})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("dedup serve did not start: " + log_path.read_text())
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


@pytest.fixture(scope="package")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_check_archive(tmp_path_factory.mktemp("service") / "archive.duckdb")


@pytest.fixture(scope="package")
def server(archive: Path) -> Iterator[str]:
    with running_server(archive) as url:
        yield url


@pytest.fixture(scope="package")
def configured_server(archive: Path) -> Iterator[str]:
    """A second server on the same archive: file paths shown, one token records any outcome."""
    tokens = f"sched:{TOKEN},{OTHER},ehr:{RECORDER}"
    with running_server(archive, "configured", DEDUP_SERVICE_TOKENS=tokens,
                        DEDUP_OUTCOME_RECORDERS="ehr", DEDUP_CHECK_SHOW_LOCATIONS="true",
                        DEDUP_CHECK_MAX_ORDERS="3") as url:
        yield url


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, headers=AUTH, timeout=10) as http:
        yield http
