"""Outcome integrity on the real server: whose outcome it is, whose clock orders, conflicts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx

from dedup.check.log import CheckLog
from tests.conftest import dedup_cli
from tests.service.conftest import AUTH, OTHER, RECORDER, free_port
from tests.service.test_cds_hooks import SIGN, card_of
from tests.service.test_http import HANS, assert_error

FEEDBACK = f"/cds-services/{SIGN}/feedback"
AS_OTHER = {"Authorization": f"Bearer {OTHER}"}


def ask(http: httpx.Client) -> str:
    response = http.get("/v1/priors", params=HANS)
    assert response.status_code == 200, response.text
    return str(response.json()["check_id"])


def outcomes_of(archive: Path, check_id: str) -> list[dict[str, object]]:
    return [r for r in CheckLog(archive).rows("outcomes") if r["check_id"] == check_id]


def overridden(card: str, when: str = "2020-12-11T00:00:00Z") -> dict[str, object]:
    return {"card": card, "outcome": "overridden", "outcomeTimestamp": when}


def accepted(card: str, when: str = "2020-12-11T00:00:00Z") -> dict[str, object]:
    return {"card": card, "outcome": "accepted", "acceptedSuggestions": [{"id": "x"}],
            "outcomeTimestamp": when}


def test_only_the_caller_that_asked_records_the_outcome(client: httpx.Client, server: str,
                                                         archive: Path) -> None:
    check_id, card = ask(client), card_of(client)  # both asked by "sched"
    with httpx.Client(base_url=server, headers=AS_OTHER, timeout=10) as other:
        error = assert_error(other.post("/v1/outcomes", json={
            "check_id": check_id, "outcome": "withdrawn"}), 403, "forbidden")
        assert "outcome_recorders" in str(error["message"])
        refused = other.post(FEEDBACK, json={"feedback": [overridden(card)]})
        assert refused.status_code == 403 and refused.json()["resourceType"] == "OperationOutcome"
        assert refused.json()["error"]["problems"] == ["feedback[0].card"]
    assert outcomes_of(archive, check_id) == outcomes_of(archive, card) == []
    assert client.post("/v1/outcomes", json={"check_id": check_id, "outcome": "withdrawn"}
                       ).status_code == 201
    assert client.post(FEEDBACK, json={"feedback": [overridden(card)]}).json()["recorded"] == 1


def test_a_configured_recorder_records_anyones_outcome(configured_server: str, archive: Path
                                                       ) -> None:
    with httpx.Client(base_url=configured_server, headers=AUTH, timeout=10) as sched:
        check_id, card = ask(sched), card_of(sched)
    recorder = {"Authorization": f"Bearer {RECORDER}"}
    with httpx.Client(base_url=configured_server, headers=recorder, timeout=10) as ehr:
        assert ehr.post("/v1/outcomes", json={"check_id": check_id, "outcome": "withdrawn"}
                        ).status_code == 201
        assert ehr.post(FEEDBACK, json={"feedback": [overridden(card)]}).json()["recorded"] == 1
    with httpx.Client(base_url=configured_server, headers=AS_OTHER, timeout=10) as other:
        assert_error(other.post("/v1/outcomes", json={
            "check_id": check_id, "outcome": "ordered-anyway"}), 403, "forbidden")
    assert [r["client"] for r in outcomes_of(archive, check_id)] == ["ehr"]


def test_a_recorder_that_names_no_token_is_refused_at_start(archive: Path) -> None:
    proc = dedup_cli("serve", "--archive", str(archive), "--port", str(free_port()),
                     env={"DEDUP_SERVICE_TOKENS": "sched:sched-token-0123456789abcdef",
                          "DEDUP_OUTCOME_RECORDERS": "sched,nobody"}, check=False, timeout=60)
    assert proc.returncode == 2 and "outcome_recorders names 1 token name" in proc.stderr


def test_the_servers_clock_orders_outcomes_and_conflicts_are_reported(
        client: httpx.Client, archive: Path) -> None:
    card = card_of(client)
    sent = datetime.now(UTC).replace(tzinfo=None)
    first = client.post(FEEDBACK, json={"feedback": [accepted(card, "2031-01-01T00:00:00Z")]})
    assert first.json() == {"recorded": 1, "unchanged": 0, "conflicts": []}
    second = client.post(FEEDBACK, json={"feedback": [overridden(card, "2000-01-01T00:00:00Z")]})
    (conflict,) = second.json()["conflicts"]
    assert second.json()["recorded"] == 1
    assert conflict["card"] == card and conflict["previous"] == "accepted"
    rows = outcomes_of(archive, card)
    assert [r["outcome"] for r in rows] == ["withdrawn", "ordered-anyway"]
    assert [str(r["reported_at"])[:4] for r in rows] == ["2031", "2000"]  # kept as reported
    times = [datetime.fromisoformat(str(r["decided_at"])) for r in rows]
    assert sent <= times[0] < times[1] <= datetime.now(UTC).replace(tzinfo=None)
    assert conflict["previous_decided_at"] == times[0].isoformat(timespec="microseconds") + "Z"


def test_an_outcome_repeated_writes_nothing_and_a_contradiction_is_reported(
        client: httpx.Client, archive: Path) -> None:
    check_id = ask(client)
    body = {"check_id": check_id, "outcome": "withdrawn"}
    first, again = client.post("/v1/outcomes", json=body), client.post("/v1/outcomes", json=body)
    assert (first.status_code, first.json()["recorded"]) == (201, True)
    assert (again.status_code, again.json()["recorded"]) == (200, False)
    assert "conflict" not in first.json() and again.json()["decided_at"] == first.json()[
        "decided_at"]
    anyway = client.post("/v1/outcomes", json={**body, "outcome": "ordered-anyway",
                                               "reason": "new trauma"})
    assert anyway.status_code == 201 and anyway.json()["conflict"] == {
        "previous": "withdrawn", "previous_decided_at": first.json()["decided_at"]}
    assert [r["outcome"] for r in outcomes_of(archive, check_id)] == ["withdrawn",
                                                                      "ordered-anyway"]


def test_one_request_deciding_a_card_twice_differently_records_nothing(
        client: httpx.Client, archive: Path) -> None:
    card, other = card_of(client), card_of(client)
    response = client.post(FEEDBACK, json={"feedback": [
        overridden(other), accepted(card), overridden(card)]})
    assert_error_cds = response.json()
    assert response.status_code == 409 and assert_error_cds["error"]["code"] == "conflict"
    assert assert_error_cds["error"]["problems"] == ["feedback[1].card", "feedback[2].card"]
    assert outcomes_of(archive, card) == outcomes_of(archive, other) == []
    same = client.post(FEEDBACK, json={"feedback": [accepted(card), accepted(card)]})
    assert same.json() == {"recorded": 1, "unchanged": 1, "conflicts": []}
