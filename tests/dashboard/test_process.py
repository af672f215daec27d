"""`dedup dashboard`: its Streamlit child lives and dies with it, it runs installed, and it
listens on loopback unless told otherwise."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO
from tests.dashboard.serving import free_port, wait_healthy


def test_killing_dedup_dashboard_ends_its_streamlit_child(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEDUP_")}
    proc = subprocess.Popen(  # from another folder: the app is found in the package
        [sys.executable, "-m", "dedup", "dashboard", "--archive", str(tmp_path / "a.duckdb"),
         "--port", str(port)], cwd=tmp_path, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    children: list[psutil.Process] = []
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "streamlit runs as a child of dedup dashboard"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        _, alive = psutil.wait_procs(children, timeout=20)
        assert not alive, f"left running after kill -9: {[p.pid for p in alive]}"
    finally:  # whatever happened, nothing of it survives the test
        for child in children:
            if child.is_running():
                child.kill()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_the_app_ships_in_the_package() -> None:
    assert (REPO / "dedup" / "dashboard" / "app.py").is_file()
    entry = (REPO / "dashboards" / "app.py").read_text()
    assert "from dedup.dashboard.app import main" in entry


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "192.0.2.7", "dashboard.example.org"])
def test_it_refuses_to_listen_beyond_loopback_without_allow_remote(address: str,
                                                                   tmp_path: Path) -> None:
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "dedup", "dashboard", "--archive", str(tmp_path / "a.duckdb"),
         "--port", str(port), "--address", address], cwd=tmp_path, capture_output=True,
        text=True, timeout=60, env={k: v for k, v in os.environ.items()
                                    if not k.startswith("DEDUP_")})
    assert done.returncode == 2
    assert f"--address {address} is not a loopback address" in done.stderr
    assert "deploy/dedup-dashboard.nginx" in done.stderr and "--allow-remote" in done.stderr
    with socket.socket() as sock:  # nothing was started: the port is still free
        sock.bind(("127.0.0.1", port))
