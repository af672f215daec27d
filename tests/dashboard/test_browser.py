"""The dashboard in a real browser: `dedup dashboard` on loopback, driven by Playwright.

Debian's chromium (the Makefile's system-deps) is launched headless; nothing is downloaded.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from dedup import metrics
from dedup.config import Settings
from tests.conftest import REPO

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="needs Debian's chromium (make system-deps)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(demo_archive: Path) -> Iterator[str]:
    """`dedup dashboard` on a free loopback port, stopped (its whole group) afterwards."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEDUP_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dedup", "dashboard", "--archive", str(demo_archive),
         "--port", str(port)], cwd=REPO, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def _wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
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


def _expected(archive: Path, institutions: tuple[str, ...] = ()) -> dict[str, str]:
    with metrics.published(archive) as snapshot:
        first, last, _ = metrics.filter_options(metrics.facts(snapshot))
        facts = metrics.facts(snapshot, metrics.Filters(first, last, institutions))
    return metrics.kpis(facts, metrics.load_cost_model(Settings())).display()


def _shown(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    shown = {}
    for card in page.get_by_test_id("stMetric").all():
        label = card.get_by_test_id("stMetricLabel").inner_text().strip()
        shown[label] = card.get_by_test_id("stMetricValue").inner_text().strip()
    return shown


def _wait_for(page, expected: dict[str, str]) -> dict[str, str]:  # type: ignore[no-untyped-def]
    deadline, shown = time.monotonic() + 30, {}
    while time.monotonic() < deadline:
        shown = _shown(page)
        if shown == expected:
            break
        page.wait_for_timeout(250)
    return shown


def test_dashboard_shows_metrics_filters_and_downloads(server: str, demo_archive: Path,
                                                      tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    total = _expected(demo_archive)
    with metrics.published(demo_archive) as snapshot:
        institutions = metrics.filter_options(metrics.facts(snapshot))[2]
    narrowed = {name: _expected(demo_archive, (name,)) for name in institutions}
    pick = next(name for name, kpis in narrowed.items() if kpis != total)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 2200}, accept_downloads=True)
        page.goto(server)
        page.get_by_test_id("stMetric").first.wait_for(timeout=60_000)
        assert _wait_for(page, total) == total
        page.wait_for_timeout(1500)  # let the charts finish drawing
        page.screenshot(path=str(REPO / "docs" / "dashboard.png"), full_page=True)

        page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect").click()
        page.get_by_role("option", name=pick, exact=True).click()
        page.keyboard.press("Escape")
        assert _wait_for(page, narrowed[pick]) == narrowed[pick] != total

        with page.expect_download() as info:
            page.get_by_role("button", name="Download by_institution.csv").click()
        saved = tmp_path / "by_institution.csv"
        info.value.save_as(saved)
        browser.close()
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert [r["institution"] for r in rows] == [pick]
    assert f"{int(rows[0]['avoided_repeats']):,}" == narrowed[pick]["Avoided repeats"]
