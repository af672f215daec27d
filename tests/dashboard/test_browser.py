"""The dashboard in a real browser: `dedup dashboard` on loopback, driven by Playwright.

Debian's chromium (the Makefile's system-deps) is launched headless; nothing is downloaded.
Every request the page makes is recorded: all of them must go to the dashboard itself, since
a hospital's dashboard host may not reach the internet and must not leak that it is used. The
tests write the screenshots in docs/ (docs/dashboard-<page>.png).
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dedup import metrics
from dedup.config import Settings
from tests.conftest import REPO
from tests.dashboard.serving import (
    CHROMIUM,
    CHROMIUM_ARGS,
    dashboard_config,
    running_dashboard,
)

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="needs Debian's chromium (make system-deps)")
DOCS = REPO / "docs"
#: page -> (url path, text that shows it has drawn, viewport height for its screenshot)
PAGES = {"overview": ("", "Top duplicate sources", 3300),
         "runs": ("runs", "Quarantine", 1000),
         "assumptions": ("assumptions", "Savings per procedure family", 2100),
         "drilldown": ("drilldown", "Duplicate pairs (masked)", 1000)}


@pytest.fixture(scope="module")
def server(demo_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dedup dashboard` on the demo archive, shipped (US) tables, drill-down on."""
    config = dashboard_config(tmp_path_factory.mktemp("dashboard"), demo_archive,
                              dashboard_drilldown=True)
    with running_dashboard(config) as url:
        yield url


def record_requests(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Every URL the page asks for from now on, WebSockets included."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    page.on("websocket", lambda socket: seen.append(socket.url))
    return seen


def outside(requests: list[str], origin: str) -> list[str]:
    """The requests that went anywhere but ``origin`` (http(s) or ws(s) to the same host)."""
    host = origin.split("://", 1)[1]
    return [url for url in requests if not url.startswith("data:") and
            url.split("://", 1)[-1].split("/", 1)[0] != host]


def expected_kpis(archive: Path, institutions: tuple[str, ...] = (),
                  settings: Settings | None = None) -> dict[str, str]:
    """The KPI row ``dedup.metrics`` computes for the whole date range."""
    with metrics.published(archive) as snapshot:
        first, last, _ = metrics.filter_options(metrics.facts(snapshot))
        facts = metrics.facts(snapshot, metrics.Filters(first, last, institutions))
    return metrics.kpis(facts, metrics.load_cost_model(settings or Settings())).display()


def shown_metrics(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Every st.metric on the page: label -> value."""
    shown = {}
    for card in page.get_by_test_id("stMetric").all():
        label = card.get_by_test_id("stMetricLabel").inner_text().strip()
        shown[label] = card.get_by_test_id("stMetricValue").inner_text().strip()
    return shown


def wait_for_metrics(page, expected: dict[str, str]) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The metrics shown once they include ``expected`` (or after 30 s, whatever is shown)."""
    deadline, shown = time.monotonic() + 30, {}
    while time.monotonic() < deadline:
        shown = shown_metrics(page)
        if expected.items() <= shown.items():
            break
        page.wait_for_timeout(250)
    return {label: shown.get(label, "") for label in expected}


def test_dashboard_shows_metrics_filters_and_downloads(server: str, demo_archive: Path,
                                                      tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    total = expected_kpis(demo_archive)
    with metrics.published(demo_archive) as snapshot:
        facts = metrics.facts(snapshot)
        institutions = metrics.filter_options(facts)[2]
        help_text = metrics.kpi_help(metrics.load_cost_model(Settings()))
        rate = metrics.projection(facts, metrics.load_cost_model(Settings()))
    narrowed = {name: expected_kpis(demo_archive, (name,)) for name in institutions}
    pick = next(name for name, kpis in narrowed.items() if kpis != total)
    assert rate is not None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1200}, accept_downloads=True)
        requests = record_requests(page)
        page.goto(server)
        page.get_by_test_id("stMetric").first.wait_for(timeout=60_000)
        assert wait_for_metrics(page, total) == total
        assert total["Estimated savings"].startswith("USD ")
        assert total["Storage reclaimable"].endswith(" GB")
        assert wait_for_metrics(page, rate.display()) == rate.display()

        page.get_by_test_id("stMetric").nth(1).get_by_test_id("stTooltipIcon").hover()
        tooltip = page.get_by_test_id("stTooltipContent").first
        tooltip.wait_for(timeout=10_000)
        assert " ".join(tooltip.inner_text().split()) == help_text["Estimated savings"]
        page.mouse.move(0, 0)

        page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect").click()
        page.get_by_role("option", name=pick, exact=True).click()
        page.keyboard.press("Escape")
        assert wait_for_metrics(page, narrowed[pick]) == narrowed[pick] != total

        with page.expect_download() as info:
            page.get_by_role("button", name="Download breakdown-by-institution.csv").click()
        saved = tmp_path / "by_institution.csv"
        info.value.save_as(saved)
        browser.close()
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert [r["Institution"] for r in rows] == [pick]
    assert f"{int(rows[0]['Avoided repeats']):,}" == narrowed[pick]["Avoided repeats"]
    assert not [column for column in rows[0] if "_" in column or "bytes" in column.lower()]
    assert not outside(requests, server)


def test_every_page_is_served_by_the_dashboard_alone(server: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for name, (path, drawn, height) in PAGES.items():
            page = browser.new_page(viewport={"width": 1400, "height": height})
            requests = record_requests(page)
            page.goto(f"{server}/{path}")
            page.get_by_text(drawn, exact=True).first.wait_for(timeout=60_000)
            page.get_by_test_id("stDataFrame").first.wait_for(timeout=60_000)
            if name == "assumptions":  # values and sources first, the SQL folded away
                expander = page.get_by_test_id("stMain").get_by_test_id("stExpander")
                assert "How each figure is computed (SQL)" in expander.inner_text()
                assert not page.get_by_test_id("stCode").first.is_visible()
            page.wait_for_timeout(2000)  # let the charts finish drawing
            page.screenshot(path=str(DOCS / f"dashboard-{name}.png"))
            assert any(url.startswith("ws://") for url in requests), name
            assert len(requests) > 5 and not outside(requests, server), (name, requests)
            page.close()
        browser.close()
