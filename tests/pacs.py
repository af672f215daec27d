"""Test helpers: a real Orthanc on loopback, a fault-injecting HTTP proxy, small studies."""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

USER, PASSWORD = "dedup", "not-a-real-secret"
PASSWORD_ENV = "DEDUP_TEST_PACS_PASSWORD"


def orthanc_binary() -> str:
    """The Orthanc executable, or skip the test saying how to install it."""
    found = shutil.which("Orthanc") or shutil.which("Orthanc", path="/usr/sbin:/usr/local/sbin")
    if not found:
        pytest.skip("Orthanc binary not found: install the Debian package 'orthanc' "
                    "(`make system-deps`)")
    return found


def dicomweb_plugin() -> str:
    """The Orthanc DICOMweb plugin, or skip the test saying how to install it."""
    found = sorted(Path("/usr/share/orthanc/plugins").glob("libOrthancDicomWeb.so*"))
    if not found:
        pytest.skip("Orthanc DICOMweb plugin not found: install the Debian package "
                    "'orthanc-dicomweb' (`make system-deps`)")
    return str(found[0])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OrthancServer:
    """One Orthanc process with its own storage, on a free loopback port, with basic auth.

    With ``dicomweb`` it loads the DICOMweb plugin, serving QIDO-RS and WADO-RS under
    :attr:`dicomweb_url`. ``dicom``: also its DICOM port (AE title ``ORTHANC``, on
    ``dicom_port``), which accepts the AE titles in ``modalities`` ({AE title: port on
    loopback}). ``metadata``: Orthanc's ``UserMetadata`` ({name: index >= 1024}).
    """

    def __init__(self, root: Path, *, dicomweb: bool = False, dicom: bool = False,
                 modalities: dict[str, int] | None = None,
                 metadata: dict[str, int] | None = None) -> None:
        self.root = root
        self.port = free_port()
        self.dicom_port = free_port() if dicom else 0
        self.process: subprocess.Popen[bytes] | None = None
        root.mkdir(parents=True, exist_ok=True)
        config = {"Name": "dedup-test", "StorageDirectory": str(root / "db"),
                  "IndexDirectory": str(root / "db"), "HttpPort": self.port,
                  "DicomServerEnabled": False, "RemoteAccessAllowed": False,
                  "AuthenticationEnabled": True, "RegisteredUsers": {USER: PASSWORD},
                  "Plugins": [], "StorageCompression": False, "SaveJobs": False,
                  "HttpTimeout": 10, "UserMetadata": metadata or {},
                  "MaximumStorageCacheSize": 0}  # every read goes to the storage folder
        if dicom:
            config.update(DicomServerEnabled=True, DicomPort=self.dicom_port,
                          DicomAet="ORTHANC", DicomCheckCalledAet=True,
                          DicomModalities={ae: [ae, "127.0.0.1", port]
                                           for ae, port in (modalities or {}).items()})
        if dicomweb:
            config["Plugins"] = [dicomweb_plugin()]
            config["DicomWeb"] = {"Enable": True, "Root": "/dicom-web/"}
        (root / "orthanc.json").write_text(json.dumps(config))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    def start(self, timeout: float = 30) -> OrthancServer:
        log = open(self.root / "orthanc.log", "ab")  # noqa: SIM115 - kept open by the child
        self.process = subprocess.Popen([orthanc_binary(), str(self.root / "orthanc.json")],
                                        stdout=log, stderr=log, cwd=self.root)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited: {(self.root / 'orthanc.log').read_text()}")
            try:
                self.get("/system")
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("Orthanc did not answer /system in time")

    def stop(self, *, kill: bool = False) -> None:
        """Stop Orthanc (SIGTERM, or SIGKILL like a crash when ``kill``)."""
        if self.process and self.process.poll() is None:
            self.process.kill() if kill else self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def _request(self, method: str, path: str, body: bytes | None = None) -> Any:
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        request = urllib.request.Request(self.url + path, data=body, method=method,
                                         headers={"Authorization": f"Basic {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def get(self, path: str) -> Any:
        return self._request("GET", path)

    def upload(self, folder: Path) -> list[str]:
        """POST every file under ``folder`` to /instances; return the Orthanc instance ids."""
        return [self._request("POST", "/instances", p.read_bytes())["ID"]
                for p in sorted(folder.rglob("*.dcm"))]

    def delete(self, instance_id: str) -> None:
        self._request("DELETE", f"/instances/{instance_id}")


def write_studies(out: Path, count: int, *, seed: int = 100, slices: int = 2) -> list[Path]:
    """Write ``count`` small MR studies (3 series x ``slices``), one folder per study."""
    from dedup.synth import INSTITUTIONS, Patient, write_study

    folders = []
    for n in range(count):
        patient = Patient(f"TEST^PATIENT{n}", f"T{seed + n:05d}", "TESTSITE", date(1960, 1, 1),
                          "O", seed + n)
        folder = out / f"study{n}"
        write_study(folder, modality="MR", patient=patient, seed=seed + n,
                    study_date=date(2024, 1, 1), institution=INSTITUTIONS[0], slices=slices)
        folders.append(folder)
    return folders


Rule = Callable[[str, int], Any]  # (path, request number) -> None | int | float | "reset"


class FaultProxy:
    """An HTTP proxy in front of Orthanc that injects faults chosen by ``rule``.

    ``rule(path, n)`` returns None (forward), an int (answer with that status), a float
    (sleep that many seconds, then forward) or ``"reset"`` (drop the connection).
    ``on_request(path, n)`` runs first (e.g. to stop Orthanc at the n-th download).
    With ``bearer`` set it is an authenticating gateway: a request must carry that bearer token
    (else 401) and is forwarded with the test PACS's basic credentials.
    """

    def __init__(self, target_port: int, port: int = 0) -> None:
        self.target_port = target_port
        self.rule: Rule = lambda path, n: None
        self.on_request: Callable[[str, int], None] = lambda path, n: None
        self.requests = 0
        self.bearer = ""
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self) -> int:
        """Number this request (1, 2, ...)."""
        with self._lock:
            self.requests += 1
            return self.requests

    def close(self) -> None:
        """Stop listening: new connections are refused."""
        self.server.shutdown()
        self.server.server_close()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            n = proxy.count()
            proxy.on_request(self.path, n)
            action = proxy.rule(self.path, n)
            if action == "reset":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if proxy.bearer and self.headers["Authorization"] != f"Bearer {proxy.bearer}":
                action = 401
            if isinstance(action, int):
                self.send_response(action)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if isinstance(action, float):
                time.sleep(action)
            self._forward()

        def _forward(self) -> None:
            upstream = http.client.HTTPConnection("127.0.0.1", proxy.target_port, timeout=10)
            try:
                upstream.request("GET", self.path, headers=self._upstream_headers())
                response = upstream.getresponse()
                body = response.read()
            except OSError:
                self.send_response(502)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            finally:
                upstream.close()
            self.send_response(response.status)
            self.send_header("Content-Type", response.getheader("Content-Type", "text/plain"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _upstream_headers(self) -> dict[str, str]:
            auth = self.headers["Authorization"] or ""
            if proxy.bearer:
                auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            return {"Authorization": auth, "Accept": self.headers["Accept"] or "*/*"}

    return Handler
