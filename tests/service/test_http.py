from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from dedup.archive.db import Archive
from dedup.check.log import CheckLog
from tests.check.archive import BORN, ORDER_DATE, PRIORS_OF_HANS, build_check_archive
from tests.conftest import REPO
from tests.service.conftest import AUTH, OTHER, audited, running_server

HANS = {"name": "MUELLER^HANS", "birth_date": BORN.isoformat(), "sex": "M",
        "procedure": "CT HEAD", "order_date": ORDER_DATE.isoformat()}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status
    assert body["error"]["code"] == code and body["error"]["message"]
    assert "Traceback" not in response.text
    return body["error"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-0123456789"},
                                     {"Authorization": "Basic c2NoZWQ6eA=="},
                                     {"Authorization": "Bearer"}])
def test_no_or_wrong_token_is_401_revealing_nothing(server: str, headers: dict[str, str]
                                                     ) -> None:
    for method, path in (("GET", "/v1/priors"), ("POST", "/v1/outcomes"),
                         ("GET", "/v1/nothing-here")):
        response = httpx.request(method, f"{server}{path}", headers=headers, params=HANS)
        error = assert_error(response, 401, "unauthorized")
        assert error["message"] == "a valid bearer token is required"
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_healthz_and_docs_are_public(server: str) -> None:
    health = httpx.get(f"{server}/healthz").json()
    assert health["status"] == "ok" and health["generation"].endswith(".duckdb")
    schema = httpx.get(f"{server}/openapi.json").json()
    assert {"/v1/priors", "/v1/outcomes", "/cds-services"} <= set(schema["paths"])
    assert httpx.get(f"{server}/docs").status_code == 200


def test_get_priors_finds_the_priors(client: httpx.Client) -> None:
    response = client.get("/v1/priors", params=HANS)
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body = response.json()
    assert [p["study_uid"] for p in body["priors"]] == PRIORS_OF_HANS
    assert body["priors"][0]["days_ago"] == 14 and body["family"] == "CT HEAD"
    assert body["recommendation"].startswith("Possible repeat")


def test_post_priors_takes_the_question_as_json(client: httpx.Client) -> None:
    body = client.post("/v1/priors", json={**HANS, "name": "Anna Nobody"}).json()
    assert body["priors"] == [] and body["patients_matched"] == 0
    second = client.post("/v1/priors", json={**HANS, "modality": "CT", "procedure": "",
                                              "body_part": "head"}).json()
    assert len(second["priors"]) == 3


def test_outcomes_are_recorded(client: httpx.Client, archive: Path) -> None:
    check_id = client.get("/v1/priors", params=HANS).json()["check_id"]
    response = client.post("/v1/outcomes", json={"check_id": check_id, "outcome":
                                                 "ordered-anyway", "reason": "new trauma"})
    assert response.status_code == 201 and response.json()["outcome"] == "ordered-anyway"
    assert_error(client.post("/v1/outcomes", json={"check_id": "no-such-check",
                                                   "outcome": "withdrawn"}), 404, "not-found")
    log = CheckLog(archive)
    checks = {row["check_id"]: row for row in log.rows("checks")}
    assert checks[check_id]["client"] == "sched" and checks[check_id]["channel"] == "http"
    assert checks[check_id]["n_priors"] == 3 and checks[check_id]["family"] == "CT HEAD"
    assert "MUELLER" not in json.dumps(list(checks.values()))
    outcome = [r for r in log.rows("outcomes") if r["check_id"] == check_id]
    assert outcome[0]["reason"] == "new trauma" and outcome[0]["client"] == "sched"


def test_a_nameless_token_is_audited_by_its_hash(server: str, archive: Path) -> None:
    check_id = httpx.get(f"{server}/v1/priors", params=HANS,
                         headers={"Authorization": f"Bearer {OTHER}"}).json()["check_id"]
    rows = [r for r in audited(archive, lambda rows: any(r["check_id"] == check_id for r in rows))
            if r["check_id"] == check_id]
    assert rows[0]["client"].startswith("token-") and OTHER not in rows[0]["client"]


@pytest.mark.parametrize(("params", "needle"), [
    ({"name": ""}, "name is required"),
    ({"birth_date": None}, "birth_date is required"),
    ({"birth_date": "1950-14-03"}, "birth_date must be a date"),
    ({"sex": "Q"}, "sex is required"),
    ({"procedure": "CT FOOT"}, "unknown procedure"),
    ({"procedure": "", "modality": ""}, "procedure is required"),
    ({"order_date": "yesterday"}, "order_date must be a date"),
    ({"within_days": "-3"}, "within_days"),
    ({"patient_id": "SM-1"}, "patient_id and issuer go together"),
])
def test_bad_questions_are_400_with_the_reason(client: httpx.Client, params: dict[str, str],
                                                needle: str) -> None:
    query = {k: v for k, v in {**HANS, **params}.items() if v is not None}
    for response in (client.get("/v1/priors", params=query),
                     client.post("/v1/priors", json=query)):
        error = assert_error(response, 400, "invalid-request")
        assert any(needle in p for p in error["problems"]), error
        assert "1950-14-03" not in response.text and "SM-1" not in response.text


def test_malformed_requests_are_4xx_never_500(client: httpx.Client) -> None:
    post = "/v1/outcomes"
    assert_error(client.post(post, content=b"{not json", headers={
        "content-type": "application/json"}), 400, "invalid-request")
    assert_error(client.post(post, content=b"check_id=1", headers={
        "content-type": "application/x-www-form-urlencoded"}), 415, "unsupported-media-type")
    assert_error(client.post(post, content=b"{}"), 415, "unsupported-media-type")
    assert_error(client.post(post, json={"check_id": "x", "outcome": "maybe"}), 400,
                 "invalid-request")
    assert_error(client.post(post, json={"check_id": "x", "outcome": "withdrawn",
                                         "extra": 1}), 400, "invalid-request")
    assert_error(client.post(post, json=[1, 2]), 400, "invalid-request")
    big = {"check_id": "x", "outcome": "withdrawn", "reason": "x" * 5000}
    assert_error(client.post(post, json=big), 413, "payload-too-large")
    chunks = (b'{"reason": "' + b"y" * 1024 for _ in range(8))
    assert_error(client.post(post, content=chunks, headers={
        "content-type": "application/json"}), 413, "payload-too-large")
    assert_error(client.get("/v1/priors", params={"birthdate": "1950-03-14"}), 400,
                 "invalid-request")
    assert_error(client.get("/v1/nothing-here"), 404, "not-found")
    assert_error(client.delete("/v1/priors"), 405, "method-not-allowed")
    assert_error(client.get("/v1/studies/9.9.9.9"), 404, "not-found")


def test_study_metadata_behind_card_links(client: httpx.Client) -> None:
    study = client.get("/v1/studies/1.2.3.1").json()
    assert study["family"] == "CT HEAD" and study["institution"] == "St. Mary Hospital"
    assert "name" not in study and "patient_id" not in study


def test_reads_keep_working_while_a_batch_indexes_the_archive(
        tmp_path: Path, corpus: object) -> None:
    archive = build_check_archive(tmp_path / "archive.duckdb")
    with running_server(archive) as url:
        before = httpx.get(f"{url}/healthz").json()["generation"]
        httpx.post(f"{url}/v1/outcomes", headers=AUTH, json={
            "check_id": httpx.get(f"{url}/v1/priors", params=HANS, headers=AUTH)
            .json()["check_id"], "outcome": "withdrawn"})
        statuses: list[int] = []
        stop = threading.Event()

        def keep_asking() -> None:
            with httpx.Client(base_url=url, headers=AUTH, timeout=10) as http:
                while not stop.is_set():
                    statuses.append(http.get("/v1/priors", params=HANS).status_code)
                    time.sleep(0.01)

        reader = threading.Thread(target=keep_asking)
        reader.start()
        try:
            batch = subprocess.run(
                [sys.executable, "-m", "dedup", "index", str(corpus.archive_dir),  # type: ignore[attr-defined]
                 "--archive", str(archive), "--workers", "1"], cwd=REPO,
                capture_output=True, text=True, timeout=300)
            assert batch.returncode == 0, batch.stderr
            deadline = time.monotonic() + 30
            while httpx.get(f"{url}/healthz").json()["generation"] == before:
                assert time.monotonic() < deadline, "new generation not picked up"
                time.sleep(0.1)
        finally:
            stop.set()
            reader.join()
        assert len(statuses) > 20 and set(statuses) == {200}
        body = httpx.get(f"{url}/v1/priors", params=HANS, headers=AUTH).json()
        assert [p["study_uid"] for p in body["priors"]] == PRIORS_OF_HANS
    with Archive.open(archive, read_only=True) as done:
        assert done.scalar("SELECT count(*) FROM outcomes") == 1  # folded by the batch
        assert done.scalar("SELECT count(*) FROM checks") >= 1


def test_the_server_log_holds_no_patient_data(client: httpx.Client, archive: Path) -> None:
    client.get("/v1/priors", params={**HANS, "birth_date": "1950-14-03"})  # logged: a 400
    client.get("/v1/priors", params=HANS)
    text = archive.with_suffix(".serve.log").read_text()
    assert "GET /v1/priors 400" in text
    for phi in ("MUELLER", "1950-03-14", "1950-14-03", "HANS"):
        assert phi not in text.upper()
