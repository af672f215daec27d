"""Fuzzing the check service's parameters and CDS feedback bodies (hypothesis, real server).

Whatever arrives, the answer is a 2xx or a 4xx in the one error shape, never a 500 or a
trace, and a request that is refused changes nothing. ``DEDUP_FUZZ_EXAMPLES`` sets the
number of examples per target (the default keeps ``make test`` short; run thousands by hand).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedup.check.log import CheckLog
from dedup.service.http import QuestionIn
from tests.service.conftest import AUTH
from tests.service.test_cds_hooks import SIGN, card_of
from tests.service.test_http import HANS

EXAMPLES = int(os.environ.get("DEDUP_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

#: Text a hostile or broken client sends: any Unicode (digits of other scripts, controls,
#: surrogates are left out: they cannot be sent as UTF-8), ISO look-alikes, huge numbers.
texts = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=24),
    st.sampled_from(["²", "٣", "1_0", " 7 ", "-3", "0", "3650", "3651", "9" * 5000, "1e3",
                     "2024-02-30", "20240215", "2024-W07-4", "٢٠٢٤-٠٢-١٥", "0001-01-01",
                     "9999-12-31", "2024-02-15T00:00:00Z", "\x1b[2J", "\n", "NaN"]),
)
#: Moments at and around the edges of the calendar, written with any offset.
edge_times = st.builds(
    lambda moment, minutes, fraction: moment.replace(tzinfo=timezone(
        timedelta(minutes=minutes))).isoformat(timespec=fraction),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    st.integers(-(24 * 60 - 1), 24 * 60 - 1),
    st.sampled_from(["seconds", "milliseconds", "microseconds", "minutes"]))
edges = st.sampled_from(["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00",
                         "9999-12-31T23:59:59.999999-23:59", "1900-01-01T00:00:00+00:01"])


def assert_refused_or_answered(response: httpx.Response, *allowed: int) -> None:
    assert response.status_code in allowed, response.text
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["status"] == response.status_code and error["message"]


@pytest.fixture(scope="module")
def client_module(server: str) -> Iterator[httpx.Client]:
    """One client, one keep-alive connection, for every example: a refusal must not drop it."""
    with httpx.Client(base_url=server, headers=AUTH, timeout=30) as http:
        yield http


@pytest.fixture(scope="module")
def cards(client_module: httpx.Client) -> list[str]:
    return [card_of(client_module) for _ in range(3)]


@FUZZ
@given(st.dictionaries(st.sampled_from(list(QuestionIn.model_fields)), texts, max_size=5),
       st.booleans())
def test_any_question_parameters_are_answered_or_refused(
        client_module: httpx.Client, fields: dict[str, str], as_json: bool) -> None:
    question = {**HANS, **fields}
    response = (client_module.post("/v1/priors", json=question) if as_json
                else client_module.get("/v1/priors", params=question))
    assert_refused_or_answered(response, 200, 400, 413)


@FUZZ
@given(st.lists(st.fixed_dictionaries(
    {"card": st.one_of(*[st.integers(0, 2)] * 4, texts),  # mostly a card issued
     "outcome": st.sampled_from(["accepted", "overridden", "overridden", "ignored"]),
     "outcomeTimestamp": st.one_of(edge_times, edge_times, edges, texts)},
    optional={"acceptedSuggestions": st.just([{"id": "x"}]),
              "overrideReason": st.just({"reason": {"code": "clinical-change"}})}),
    min_size=1, max_size=4))
def test_any_feedback_is_recorded_whole_or_not_at_all(
        client_module: httpx.Client, cards: list[str], archive: Any,
        items: list[dict[str, Any]]) -> None:
    body = {"feedback": [{**item, "card": cards[item["card"]]} if isinstance(item["card"], int)
                         else item for item in items]}
    before = CheckLog(archive).rows("outcomes")
    response = client_module.post(f"/cds-services/{SIGN}/feedback", json=body)
    assert_refused_or_answered(response, 200, 400, 404, 409, 413)
    after = CheckLog(archive).rows("outcomes")
    if response.status_code != 200:
        assert after == before
    else:
        reply = response.json()
        assert reply["recorded"] == len(after) - len(before)
        assert reply["recorded"] + reply["unchanged"] == len(items)
        assert len(reply["conflicts"]) <= reply["recorded"]
        for row in after[len(before):]:  # stored at the server's time, never the client's
            moment = datetime.fromisoformat(row["decided_at"]).replace(tzinfo=UTC)
            assert abs(datetime.now(UTC) - moment) < timedelta(minutes=5)
