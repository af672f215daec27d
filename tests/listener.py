"""Test helpers: ``dedup listen`` as a real subprocess, and DCMTK's ``storescu`` to feed it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.orphans import marked_env
from tests.pacs import free_port

REPO = Path(__file__).resolve().parent.parent
SENDER = "SENDER"


def storescu_binary() -> str:
    """DCMTK's storescu, or skip the test saying how to install it."""
    found = shutil.which("storescu")
    if not found:
        pytest.skip("storescu not found: install the Debian package 'dcmtk' (`make system-deps`)")
    return found


def storescu(folder: Path, port: int, *, aet: str = SENDER, aec: str = "DEDUP",
             propose: tuple[str, ...] = (), timeout: float = 300
             ) -> subprocess.CompletedProcess[str]:
    """Send every file under ``folder`` in one association (verbose: one line per response).

    ``propose``: storescu's options for compressed transfer syntaxes (``-xt``: JPEG-LS
    lossless); by default it proposes uncompressed ones only, and converts to them.
    """
    return subprocess.run([storescu_binary(), "-v", "-R", *propose, "-aet", aet, "-aec", aec,
                           "+sd", "+r", "127.0.0.1", str(port), str(folder)],
                          capture_output=True, text=True, timeout=timeout)


def storescu_background(folder: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start :func:`storescu` in the background, its verbose output going to ``log``."""
    with open(log, "wb") as out:
        return subprocess.Popen([storescu_binary(), "-v", "-R", "-aet", SENDER, "-aec", "DEDUP",
                                 "+sd", "+r", "127.0.0.1", str(port), str(folder)],
                                stdout=out, stderr=subprocess.STDOUT)


def acknowledged(output: str) -> list[Path]:
    """The files ``storescu -v`` sent and got a success response for."""
    sent: list[Path] = []
    current = None
    for line in output.splitlines():
        if line.startswith("I: Sending file: "):
            current = Path(line.removeprefix("I: Sending file: "))
        elif line.startswith("I: Received Store Response (Success)") and current:
            sent.append(current)
            current = None
    return sent


class Listener:
    """``dedup listen`` on a free loopback port, its archive and log under ``root``."""

    def __init__(self, root: Path, *, allowed: str = SENDER, idle: float = 1.0,
                 workers: int = 1, extra: str = "", env: dict[str, str] | None = None) -> None:
        """``extra``: more ``[listen]`` keys (TOML lines); ``env``: more environment."""
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.archive = root / "archive.duckdb"
        self.spool = root / "archive.listen"
        self.config = root / "listen.toml"
        self.config.write_text(f'archive = "archive.duckdb"\nworkers = {workers}\n'
                               f'publish = false\n\n[listen]\nport = {self.port}\n'
                               f'allowed = "{allowed}"\nidle_seconds = {idle}\n{extra}\n')
        self.log = root / "listen.log"
        self.env, self.mark = marked_env({**os.environ, **(env or {})})
        self.process: subprocess.Popen[bytes] | None = None
        self._offset = 0

    def start(self, timeout: float = 60) -> Listener:
        """Start it and wait until it accepts associations."""
        self._offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "dedup", "listen", "-c", str(self.config)],
                stdout=log, stderr=log, env=self.env, cwd=REPO)
        self.wait_for("listening as", timeout=timeout)
        return self

    def text(self) -> str:
        """The log written since the last start."""
        return self.log.read_bytes()[self._offset:].decode(errors="replace")

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 120) -> list[str]:
        """Wait until ``count`` log lines (since the last start) match ``pattern``."""
        deadline = time.monotonic() + timeout
        while True:
            found = [line for line in self.text().splitlines() if re.search(pattern, line)]
            if len(found) >= count:
                return found
            assert self.process is not None
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {count} lines matching {pattern!r} (exit "
                                     f"{self.process.poll()}); log:\n{self.text()}")
            time.sleep(0.05)

    def stop(self, *, kill: bool = False) -> int:
        """SIGTERM (or SIGKILL) it; return its exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError("dedup listen did not stop within 60 s of SIGTERM") from None

    def spooled(self) -> list[Path]:
        """The Part 10 files in the spool."""
        return sorted(p for p in self.spool.rglob("*.dcm") if ".partial" not in p.parts)
