"""The sign-in: deploy/dedup-dashboard.nginx in front of `dedup dashboard`, with Debian's nginx.

The shipped site is rendered for a test (loopback ports, a self-signed certificate, a
password file in a temporary folder; every replaced line must exist in the file), checked
with `nginx -t`, and served: without the password nginx answers 401, with it the dashboard
works in Chromium through the proxy (its WebSocket included), and every request the page makes
goes to the proxy.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from dedup.config import Settings
from tests.conftest import REPO
from tests.dashboard.serving import (
    CHROMIUM,
    CHROMIUM_ARGS,
    dashboard_config,
    free_port,
    running_dashboard,
)
from tests.dashboard.test_browser import (
    expected_kpis,
    outside,
    record_requests,
    wait_for_metrics,
)

NGINX, OPENSSL = shutil.which("nginx") or "/usr/sbin/nginx", shutil.which("openssl")
pytestmark = pytest.mark.skipif(
    not (Path(NGINX).exists() and OPENSSL and Path(CHROMIUM).exists()),
    reason="needs Debian's nginx, openssl and chromium (make system-deps)")
SITE = REPO / "deploy" / "dedup-dashboard.nginx"
USER, PASSWORD = "admin", "correct horse battery staple"
GERMAN = {"exam_costs": "shipped:exam_costs_de_goae.csv",
          "storage_costs": "shipped:storage_costs_de.csv"}


def _render(site: str, work: Path, http_port: int, https_port: int, upstream: str) -> str:
    """The shipped site with test ports and paths; each replaced line must be in it."""
    replace = {
        "listen 80;": f"listen 127.0.0.1:{http_port};", "listen [::]:80;": "",
        "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;", "listen [::]:443 ssl;": "",
        "/etc/ssl/certs/dedup-dashboard.pem": str(work / "cert.pem"),
        "/etc/ssl/private/dedup-dashboard.key": str(work / "key.pem"),
        "/etc/dedup/dashboard.htpasswd": str(work / "htpasswd"),
        "/var/log/nginx/": f"{work}/", "http://127.0.0.1:8501": upstream,
    }
    for old, new in replace.items():
        assert site.count(old) >= 1, f"{old!r} is no longer in {SITE.name}; update this test"
        site = site.replace(old, new)
    return site


def _nginx_conf(work: Path, site: Path) -> Path:
    temp = " ".join(f"{kind}_temp_path {work}/{kind};"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers read the password file
    conf = work / "nginx.conf"
    conf.write_text(f"{user}pid {work}/nginx.pid;\nerror_log {work}/error.log;\n"
                    f"events {{}}\nhttp {{\n  access_log {work}/access.log;\n  {temp}\n"
                    f"  include {site};\n}}\n")
    return conf


@pytest.fixture(scope="module")
def proxy(demo_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard (German tables) behind the shipped nginx site, as https://127.0.0.1:N."""
    work = tmp_path_factory.mktemp("nginx")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(work / "key.pem"), "-out",
                    str(work / "cert.pem")], check=True, capture_output=True, timeout=60)
    hashed = subprocess.run([OPENSSL, "passwd", "-apr1", PASSWORD], check=True, text=True,
                            capture_output=True, timeout=30).stdout.strip()
    (work / "htpasswd").write_text(f"{USER}:{hashed}\n")
    config = dashboard_config(work / "dashboard", demo_archive, **GERMAN)
    with running_dashboard(config) as upstream:
        https_port = free_port()
        site = work / "dedup-dashboard.conf"
        site.write_text(_render(SITE.read_text(), work, free_port(), https_port, upstream))
        conf = _nginx_conf(work, site)
        nginx_at = [NGINX, "-e", str(work / "startup.log"), "-p", str(work), "-c", str(conf)]
        checked = subprocess.run([*nginx_at, "-t"], capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0, checked.stderr
        nginx = subprocess.Popen([*nginx_at, "-g", "daemon off;"], stderr=subprocess.PIPE,
                                 start_new_session=True)
        url = f"https://127.0.0.1:{https_port}"
        try:
            _wait_listening(url, nginx)
            yield url
        finally:
            os.killpg(nginx.pid, signal.SIGQUIT)
            nginx.wait(timeout=30)


def _wait_listening(url: str, nginx: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert nginx.poll() is None, nginx.stderr.read()  # type: ignore[union-attr]
        try:
            _get(url, None)
            return
        except urllib.error.HTTPError:
            return  # it answers (401 without a password)
        except OSError:
            time.sleep(0.2)
    raise AssertionError("nginx did not answer within 30 s")


def _get(url: str, password: str | None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if password is not None:
        token = base64.b64encode(f"{USER}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # self-signed
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        return response.status, response.read().decode()


@pytest.mark.parametrize("password", [None, "wrong"])
def test_without_the_password_nothing_is_served(proxy: str, password: str | None) -> None:
    for path in ("/", "/_stcore/health", "/assumptions"):
        with pytest.raises(urllib.error.HTTPError) as info:
            _get(proxy + path, password)
        assert info.value.code == 401
        assert info.value.headers["WWW-Authenticate"] == 'Basic realm="dedup dashboard"'


def test_with_the_password_the_dashboard_answers(proxy: str) -> None:
    assert _get(f"{proxy}/_stcore/health", PASSWORD) == (200, "ok")
    status, page = _get(proxy, PASSWORD)
    assert status == 200 and "<title>Streamlit</title>" in page


def test_the_dashboard_works_through_the_proxy(proxy: str, demo_archive: Path) -> None:
    from playwright.sync_api import sync_playwright

    expected = expected_kpis(demo_archive, settings=Settings(**GERMAN))
    assert expected["Estimated savings"].startswith("EUR ")  # Klinikum-style tables
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(http_credentials={"username": USER, "password": PASSWORD},
                                      ignore_https_errors=True)
        page = context.new_page()
        requests = record_requests(page)
        page.goto(proxy)
        page.get_by_test_id("stMetric").first.wait_for(timeout=60_000)
        assert wait_for_metrics(page, expected) == expected  # over the proxied WebSocket
        browser.close()
    assert any(url.startswith(f"wss://{proxy.split('://')[1]}/_stcore/stream")
               for url in requests)
    assert not outside(requests, proxy)
