"""The shipped nginx site (deploy/nginx-dedup.conf) in front of a real ``dedup serve``.

The site is used as shipped but for what a test machine needs: its own ports, a self-signed
certificate, log and temporary folders under the test's folder, and a 1 s header timeout.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO
from tests.service.conftest import AUTH, free_port, running_server
from tests.service.test_http import HANS

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")
SITE = REPO / "deploy" / "nginx-dedup.conf"


def site_for_test(folder: Path, http_port: int, tls_port: int, service_port: int) -> str:
    """The shipped site with this machine's ports, certificate and folders."""
    text = SITE.read_text()
    for pattern, value in (
            (r"listen \[::\]:\d+[^;]*;\n\s*", ""),  # the test machine may lack IPv6
            (r"listen 80;", f"listen 127.0.0.1:{http_port};"),
            (r"listen 443 ssl;", f"listen 127.0.0.1:{tls_port} ssl;"),
            (r"server 127\.0\.0\.1:8080;", f"server 127.0.0.1:{service_port};"),
            (r"ssl_certificate \S+;", f"ssl_certificate {folder}/cert.pem;"),
            (r"ssl_certificate_key \S+;", f"ssl_certificate_key {folder}/key.pem;"),
            (r"/var/log/nginx/", f"{folder}/"),
            (r"client_header_timeout 10s;", "client_header_timeout 1s;")):
        text, found = re.subn(pattern, value, text)
        assert found, f"the shipped site has no {pattern!r}"
    return text


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """nginx with the shipped site before ``dedup serve``: (https URL, http URL, its folder)."""
    from tests.check.archive import build_check_archive

    folder = tmp_path_factory.mktemp("nginx")
    archive = build_check_archive(folder / "archive.duckdb")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                   check=True, capture_output=True)
    ports = free_port(), free_port()
    with running_server(archive) as service:
        site = site_for_test(folder, *ports, int(service.rsplit(":", 1)[1]))
        (folder / "dedup.conf").write_text(site)
        (folder / "nginx.conf").write_text(
            f"daemon off; user root; pid {folder}/nginx.pid; error_log {folder}/error.log;\n"
            "events { worker_connections 256; }\n"
            f"http {{ client_body_temp_path {folder}/body; proxy_temp_path {folder}/proxy;\n"
            f"  include {folder}/dedup.conf; }}\n")
        argv = [str(NGINX), "-p", str(folder), "-c", str(folder / "nginx.conf")]
        checked = subprocess.run([*argv, "-t"], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        nginx = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
        try:
            url = f"https://127.0.0.1:{ports[1]}"
            deadline = time.monotonic() + 10
            while True:
                try:
                    httpx.get(f"{url}/healthz", verify=False, timeout=1)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, (folder / "error.log").read_text()
                    time.sleep(0.1)
            yield url, f"http://127.0.0.1:{ports[0]}", folder
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)


def test_checks_are_answered_over_tls_and_plain_http_is_redirected(
        proxy: tuple[str, str, Path]) -> None:
    url, plain, folder = proxy
    trusted = ssl.create_default_context(cafile=str(folder / "cert.pem"))
    with httpx.Client(base_url=url, verify=trusted, headers=AUTH, timeout=10) as http:
        answer = http.get("/v1/priors", params=HANS)
        assert answer.status_code == 200 and answer.json()["priors"]
        assert http.get("/healthz").headers["strict-transport-security"]
    moved = httpx.get(f"{plain}/v1/priors", params=HANS)
    assert moved.status_code == 301 and moved.headers["location"].startswith("https://")
    log = (folder / "dedup.access.log").read_text()
    assert "GET /v1/priors HTTP/1.1\" 200" in log
    assert "MUELLER" not in log.upper() and "1950" not in log  # the query is never logged


def test_the_proxy_closes_slow_headers_within_its_timeout(proxy: tuple[str, str, Path]
                                                          ) -> None:
    url, _, _ = proxy
    port = int(url.rsplit(":", 1)[1])
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    socks = []
    try:
        for _ in range(20):
            sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port), 10))
            sock.sendall(b"GET /v1/priors HTTP/1.1\r\nHost: dedup\r\n")
            socks.append(sock)
        started = time.monotonic()
        for sock in socks:
            sock.settimeout(5)  # a socket still open then raises TimeoutError: the test fails
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                while sock.recv(65536):
                    pass  # nginx closes it (and logs a 408)
        assert time.monotonic() - started < 1 + 3
    finally:
        for sock in socks:
            sock.close()
