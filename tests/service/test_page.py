"""The schedulers' page in Debian's chromium (Playwright) against a real `dedup serve`.

The page is driven as a scheduler would: the token once, the order form, the answer in plain
words with the viewer link, and the outcome button, which must reach the check log. Every
request the page makes must go to the service itself (no CDN, no font, nothing outside the
hospital). The first test writes docs/schedulers-page.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dedup.check import Checker, CheckLog
from dedup.config import Settings
from dedup.config.viewer import PRESETS
from dedup.service.guard import PUBLIC_PATHS
from dedup.service.page import PAGE_PATHS, procedure_suggestions
from tests.conftest import REPO
from tests.dashboard.serving import CHROMIUM, CHROMIUM_ARGS
from tests.dashboard.test_browser import outside, record_requests
from tests.service.conftest import AUTH, TOKEN, audited, running_server

OHIF = PRESETS["OHIF"]
browser_only = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                  reason="needs Debian's chromium (make system-deps)")


@pytest.fixture(scope="module")
def server(archive: Path) -> Iterator[str]:
    with running_server(archive, "page", DEDUP_VIEWER_URL=OHIF) as url:
        yield url


@pytest.fixture
def page(server: str) -> Iterator[tuple[Any, list[str]]]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1100, "height": 1150})
        requests = record_requests(tab)
        tab.goto(server)  # / leads to /schedule
        tab.get_by_label("Access token", exact=True).fill(TOKEN)
        tab.get_by_role("button", name="Continue").click()
        yield tab, requests
        browser.close()


def fill_order(tab: Any, family: str, given: str, sex: str, procedure: str, side: str = "",
               mrn: tuple[str, str] = ("", "")) -> None:
    tab.get_by_label("Family name", exact=True).fill(family)
    tab.get_by_label("Given name", exact=True).fill(given)
    tab.get_by_label("Birth date", exact=True).fill("1950-03-14")
    tab.get_by_label("Sex", exact=True).select_option(sex)
    tab.get_by_label("MRN (optional)", exact=True).fill(mrn[0])
    tab.get_by_label("Issued by (with an MRN)", exact=True).fill(mrn[1])
    tab.get_by_label("Procedure (type").fill(procedure)
    tab.get_by_label("Side", exact=True).select_option(side)
    tab.get_by_label("Order date", exact=True).fill("2024-02-15")
    tab.get_by_role("button", name="Check for priors").click()


@browser_only
def test_a_prior_is_shown_and_the_withdrawal_reaches_the_check_log(
        page: tuple[Any, list[str]], server: str, archive: Path) -> None:
    tab, requests = page
    before = {r["check_id"] for r in CheckLog(archive).rows("checks")}
    assert tab.url.endswith("/schedule")
    assert tab.get_by_label("Order date", exact=True).input_value()  # today by default
    fill_order(tab, "Mueller", "Hans", "M", "CT head without contrast")
    answer = tab.get_by_role("heading", level=2).filter(has_text="prior")
    answer.wait_for(timeout=10_000)
    assert answer.inner_text() == "A prior exists: CT HEAD 14 days ago at Klinikum Nord"
    rows = tab.locator("#priors tbody tr")
    assert rows.count() == 3
    assert rows.nth(0).locator("td").nth(0).inner_text() == "2024-02-01"
    link = rows.nth(0).get_by_role("link", name="Open the study of 2024-02-01 in the viewer")
    assert link.get_attribute("href") == OHIF.format(study_uid="1.2.3.4")
    assert rows.nth(1).locator("td").nth(2).inner_text() == "St. Mary Hospital"
    tab.screenshot(path=str(REPO / "docs" / "schedulers-page.png"), full_page=True)

    tab.get_by_role("button", name="Order withdrawn").click()
    tab.get_by_role("status").filter(has_text="Recorded").wait_for(timeout=10_000)
    (check,) = [r for r in audited(archive, lambda rows: len(rows) > len(before))
                if r["check_id"] not in before]
    assert (check["client"], check["family"], check["n_priors"]) == ("sched", "CT HEAD", 3)
    outcomes = [o for o in CheckLog(archive).rows("outcomes")
                if o["check_id"] == check["check_id"]]
    assert [o["outcome"] for o in outcomes] == ["withdrawn"]
    assert outside(requests, server) == []


@browser_only
def test_no_prior_and_a_possible_prior_in_plain_words(page: tuple[Any, list[str]],
                                                      server: str) -> None:
    tab, requests = page
    fill_order(tab, "Okafor", "Anna", "F", "CT head")
    tab.get_by_role("heading", name="No prior found").wait_for(timeout=10_000)
    assert tab.locator("#priors").is_hidden()
    assert tab.get_by_role("button", name="Order withdrawn").is_hidden()
    fill_order(tab, "Mueller", "Hans", "M", "XR hand left 3 views", "L")
    tab.get_by_role("heading", name="No prior found").wait_for(timeout=10_000)
    fill_order(tab, "Mueller", "Hans", "M", "CT foot")  # the study's side is not recorded
    possible = "Possible prior — check laterality: CT FOOT 3 days ago at St. Mary Hospital"
    tab.get_by_role("heading", name=possible).wait_for(timeout=10_000)
    assert tab.locator("#priors tbody tr").count() == 1
    fill_order(tab, "Mueller", "Hans", "M", "", "")
    tab.get_by_role("heading", name="the question is not valid").wait_for(timeout=10_000)
    assert "procedure is required" in tab.locator("#problems").inner_text()
    assert outside(requests, server) == []


def test_the_page_loads_without_a_token_and_asks_nothing_without_one(server: str) -> None:
    assert PAGE_PATHS <= PUBLIC_PATHS
    html = httpx.get(f"{server}/schedule")
    assert html.status_code == 200 and "<form" in html.text
    assert "default-src 'self'" in html.headers["content-security-policy"]
    assert "http" not in html.text.replace('href="/', "").split("<body>")[0]
    for path in ("/schedule/schedule.js", "/schedule/schedule.css"):
        assert httpx.get(f"{server}{path}").status_code == 200
    assert httpx.get(f"{server}/schedule/procedures").status_code == 401
    assert httpx.get(f"{server}/schedule/other.js", headers=AUTH).status_code == 404


def test_every_suggestion_is_a_procedure_the_check_knows(server: str, archive: Path) -> None:
    names = httpx.get(f"{server}/schedule/procedures", headers=AUTH).json()["procedures"]
    checker = Checker(archive, Settings(archive=str(archive)))
    assert names == procedure_suggestions(checker.mapping)
    assert {"CT HEAD", "XR Hand", "MR Ankle joint"} <= set(names)
    assert len({n.upper() for n in names}) == len(names)
    for name in names:
        question = checker.parse(name="A^B", birth_date="1950-01-01", sex="F",
                                 description=name, order_date="2024-01-01")
        assert question.certain and question.lookup, name
