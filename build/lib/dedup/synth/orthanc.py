"""A real Orthanc on loopback, for copies made the way a PACS makes them.

:class:`Orthanc` starts ``/usr/sbin/Orthanc`` with its own temporary configuration and
storage on a free loopback port (HTTP only, no DICOM listener, basic auth with a random
password), and always stops it when its ``with`` block ends, its process group included.
The copies themselves are made in :mod:`dedup.synth.orthanc_copies`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

#: Where Debian installs the server, which is not on an ordinary user's PATH.
SBIN = "/usr/sbin:/usr/local/sbin"
_USER = "dedup-eval"


def orthanc_binary() -> str | None:
    """The Orthanc executable, or ``None`` when it is not installed."""
    return shutil.which("Orthanc") or shutil.which("Orthanc", path=SBIN)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Orthanc:
    """One Orthanc process with a temporary storage, as a context manager.

    Args:
        binary: the Orthanc executable (default: :func:`orthanc_binary`).
        timeout: seconds to wait for it to answer, and per request.

    Raises:
        RuntimeError: on entering, when Orthanc is missing, exits or does not answer.

    """

    def __init__(self, binary: str | None = None, timeout: float = 30) -> None:
        self.binary = binary or orthanc_binary()
        self.timeout = timeout
        self.port = 0
        self._password = secrets.token_urlsafe(16)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The server's process id (its process group's too); 0 when it is not running."""
        return self._process.pid if self._process is not None else 0

    @property
    def url(self) -> str:
        """The base URL of the REST API."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Orthanc:
        if self.binary is None:
            raise RuntimeError("Orthanc not found: install the Debian package 'orthanc' "
                               "(`make system-deps`)")
        self._tmp = tempfile.TemporaryDirectory(prefix="dedup-orthanc-")
        try:
            self._start(Path(self._tmp.name))
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def _start(self, root: Path) -> None:
        self.port = _free_port()
        config = {"Name": "dedup-eval", "StorageDirectory": str(root / "db"),
                  "IndexDirectory": str(root / "db"), "HttpPort": self.port,
                  "DicomServerEnabled": False, "RemoteAccessAllowed": False,
                  "AuthenticationEnabled": True, "RegisteredUsers": {_USER: self._password},
                  "Plugins": [], "StorageCompression": False, "SaveJobs": False,
                  "HttpTimeout": int(self.timeout)}
        (root / "orthanc.json").write_text(json.dumps(config))
        with open(root / "orthanc.log", "wb") as log:
            # a session of its own: stop() signals the whole group, children included
            self._process = subprocess.Popen(
                [str(self.binary), str(root / "orthanc.json")], stdout=log, stderr=log,
                cwd=root, start_new_session=True)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError("Orthanc exited on start: "
                                   + (root / "orthanc.log").read_text()[-2000:])
            try:
                self.get("/system")
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"Orthanc did not answer /system within {self.timeout:.0f} s")

    def stop(self) -> None:
        """Stop Orthanc and its process group (SIGTERM, then SIGKILL) and remove its files."""
        process, self._process = self._process, None
        if process is not None:
            _end_group(process)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        """One authenticated request; the response body.

        Raises:
            OSError: the request failed (``urllib.error.HTTPError`` for an error status).

        """
        token = base64.b64encode(f"{_USER}:{self._password}".encode()).decode()
        request = urllib.request.Request(self.url + path, data=body, method=method,
                                         headers={"Authorization": f"Basic {token}"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return bytes(response.read())

    def get(self, path: str) -> Any:
        """GET a JSON resource."""
        return json.loads(self.request("GET", path) or b"null")

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST a JSON body; the JSON answer."""
        return json.loads(self.request("POST", path, json.dumps(body).encode()) or b"null")

    def upload(self, folder: Path) -> str:
        """Store every ``*.dcm`` under ``folder``; the Orthanc id of their (one) study.

        Raises:
            ValueError: the files belong to no study or to several.
            OSError: Orthanc refused a file or did not answer.

        """
        studies = {json.loads(self.request("POST", "/instances", path.read_bytes()))
                   ["ParentStudy"] for path in sorted(folder.rglob("*.dcm"))}
        if len(studies) != 1:
            raise ValueError(f"{folder} holds {len(studies)} studies; upload one at a time")
        return studies.pop()

    def instances(self, study: str) -> list[str]:
        """The Orthanc ids of a study's instances."""
        return [item["ID"] for item in self.get(f"/studies/{study}/instances")]

    def download(self, instances: list[str], dest: Path) -> None:
        """Write each instance's stored file to ``dest/<n>.dcm``."""
        dest.mkdir(parents=True, exist_ok=True)
        for n, instance in enumerate(sorted(instances), 1):
            (dest / f"{n}.dcm").write_bytes(self.request("GET", f"/instances/{instance}/file"))

    def clear(self) -> None:
        """Delete every stored patient (and with them all studies)."""
        for patient in self.get("/patients"):
            self.request("DELETE", f"/patients/{patient}")


def _end_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group, SIGKILL to whatever of it is left; reap the leader."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
