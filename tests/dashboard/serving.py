"""`dedup dashboard` as a real server for the tests: a free loopback port, stopped afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import REPO

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    """A TCP port nothing listens on (on loopback)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    """Wait until Streamlit's health endpoint answers; fail if the process ends first."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dashboard exited: {proc.stderr.read()!r}")  # type: ignore[union-attr]
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("dashboard did not become healthy within 60 s")


def dashboard_config(folder: Path, archive: Path, **settings: str | bool) -> Path:
    """A configuration file for ``archive`` with ``settings`` (and the source a file needs)."""
    (folder / "incoming").mkdir(parents=True, exist_ok=True)
    lines = [f"archive = {str(archive)!r}"]
    lines += [f"{key} = {str(value).lower() if isinstance(value, bool) else repr(value)}"
              for key, value in settings.items()]
    lines += ["[[sources]]", 'name = "incoming"', 'type = "folder"', 'path = "incoming"']
    path = folder / "dedup.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def running_dashboard(config: Path) -> Iterator[str]:
    """`dedup dashboard --config FILE` on a free loopback port; its whole group stopped after."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEDUP_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dedup", "dashboard", "--config", str(config), "--port",
         str(port)], cwd=REPO, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
