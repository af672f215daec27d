from __future__ import annotations

import http.client
import json
import random
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pydicom
import pytest

from dedup.archive.db import Archive
from dedup.archive.publish import publish, published_path
from dedup.check.log import CheckLog
from dedup.match.procedures import load_mapping
from dedup.synth import Patient, write_study
from tests.check.archive import BORN, ORDER_DATE, PRIORS_OF_HANS, build_check_archive
from tests.conftest import REPO, dedup_cli
from tests.orphans import mark_of, marked_env, survivors
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
    ({"procedure": "BANANA"}, "unknown procedure"),
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


# Every optional attribute may be missing or malformed, in any combination (each pair of
# states of any two attributes occurs in some study): `dedup index` takes them all and
# `dedup serve` starts, answers and stays healthy.
_STATES: dict[str, tuple[str | None, ...]] = {  # None: the attribute is deleted
    "PatientBirthDate": ("", None, "19XX0101", "20241340"),
    "PatientSex": ("", None, "Q", "MALE"),
    "PatientName": ("", None, "^^^", "\x1b[2J\x07^EVIL"),
    "StudyDate": ("", None, "2024-03-01", "00000000"),
    "BodyPartExamined": ("", None, "!!!", "HEAD\\CHEST"),
    "Modality": ("", None, "ZZ", "ct"),
}
_KEEP = "keep"


def _pairwise(rng: random.Random) -> list[dict[str, str | None]]:
    """Rows of attribute states covering every pair of states of two attributes."""
    options = {name: (_KEEP, *states) for name, states in _STATES.items()}
    names = list(options)
    uncovered = {((a, x), (b, y)) for i, a in enumerate(names) for b in names[i + 1:]
                 for x in options[a] for y in options[b]}
    rows: list[dict[str, str | None]] = [dict.fromkeys(names, _KEEP)]
    while uncovered:
        candidates = [{n: rng.choice(options[n]) for n in names} for _ in range(60)]
        best = max(candidates, key=lambda row: sum(
            ((a, row[a]), (b, row[b])) in uncovered for (a, _), (b, _) in uncovered))
        uncovered -= {((a, best[a]), (b, best[b])) for (a, _), (b, _) in uncovered}
        rows.append(best)
    return rows


def _messy_studies(folder: Path) -> list[tuple[dict[str, str | None], Patient, str]]:
    """One generated CT study per row of states, its files changed with pydicom.

    The last study indexed has only its birth date missing: its record has the largest key.
    """
    studies = []
    rows = [*_pairwise(random.Random(11)), {**dict.fromkeys(_STATES, _KEEP),
                                            "PatientBirthDate": ""}]
    for n, row in enumerate(rows):
        patient = Patient(f"MESSY^PATIENT{n}", f"M{n:04d}", "MESSY",
                          date(1940, 1, 1) + timedelta(days=400 * n), "MF"[n % 2], person=n)
        uid = write_study(folder / f"{n:03d}", modality="CT", patient=patient, seed=500 + n,
                          study_date=date(2024, 3, 1), institution="St. Mary Hospital",
                          slices=1)
        for file in (folder / f"{n:03d}").rglob("*.dcm"):
            ds = pydicom.dcmread(file)
            for name, state in row.items():
                if state is None:
                    delattr(ds, name)
                elif state != _KEEP:
                    setattr(ds, name, state)
            ds.save_as(file)
        studies.append((row, patient, uid))
    return studies


def test_missing_or_malformed_attributes_never_take_the_service_down(tmp_path: Path) -> None:
    studies = _messy_studies(tmp_path / "in")
    archive = tmp_path / "archive.duckdb"
    dedup_cli("index", str(tmp_path / "in"), "--archive", str(archive))
    families = {rule.family for rule in load_mapping().rules}
    with running_server(archive) as url, httpx.Client(base_url=url, headers=AUTH) as http:
        assert http.get("/healthz").json()["status"] == "ok"
        for row, patient, uid in studies:
            study = http.get(f"/v1/studies/{uid}")
            assert study.status_code in (200, 404), study.text
            answer = http.get("/v1/priors", params={
                "name": patient.name, "birth_date": patient.birth_date.isoformat(),
                "sex": patient.sex, "patient_id": patient.patient_id, "issuer": "MESSY",
                "procedure": family if (family := study.json().get("family")) in families
                else "CT HEAD",
                "order_date": "2024-03-02"})
            assert answer.status_code == 200, answer.text
            found = [p["study_uid"] for p in answer.json()["priors"]]
            if set(row.values()) == {_KEEP}:
                assert found == [uid]
            if row["PatientBirthDate"] != _KEEP:
                assert found == []
        assert http.get("/healthz").json()["status"] == "ok"
    assert "Traceback" not in archive.with_suffix(".serve.log").read_text()


def _publish_broken_generation(archive: Path) -> Path:
    """Point the published link at a generation that is not a database, as a bad copy would."""
    link = published_path(archive)
    broken = link.resolve().with_name(f"{time.time_ns()}.duckdb")
    broken.write_bytes(b"not a DuckDB file\n" * 512)
    tmp = link.with_name(".broken-link")
    tmp.symlink_to(broken)
    tmp.replace(link)
    return broken


def _health_when(url: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while not done(health := httpx.get(f"{url}/healthz").json()):
        assert time.monotonic() < deadline, health
        time.sleep(0.1)
    return health


def test_a_generation_that_fails_to_build_is_reported_stale_and_retried_with_backoff(
        tmp_path: Path) -> None:
    archive = build_check_archive(tmp_path / "archive.duckdb")
    with running_server(archive) as url:
        served = httpx.get(f"{url}/healthz").json()["generation"]
        broken = _publish_broken_generation(archive)
        health = _health_when(url, lambda h: h["status"] == "stale")
        assert (health["generation"], health["failed_generation"]) == (served, broken.name)
        assert health["reason"] == "ArchiveError" and str(tmp_path) not in str(health)
        assert health["attempts"] >= 1 and health["retry_in_seconds"] >= 0
        body = httpx.get(f"{url}/v1/priors", params=HANS, headers=AUTH).json()
        assert [p["study_uid"] for p in body["priors"]] == PRIORS_OF_HANS
        assert body["generation"] == served
        _health_when(url, lambda h: h.get("attempts", 0) >= 3)
        with Archive.open(archive) as writer:
            publish(writer)
        health = _health_when(url, lambda h: h["status"] == "ok")
        assert health["generation"] not in (served, broken.name)
        assert "reason" not in health
    log = archive.with_suffix(".serve.log").read_text()
    delays = [float(d) for d in re.findall(r"failed \(.*attempt \d+\);.* in ([0-9.]+) s", log)]
    assert len(delays) >= 3 and delays == sorted(delays) and delays[2] >= 4 * delays[0], log
    assert "Traceback" not in log


@pytest.mark.parametrize("within_days", ["²", "٣", "1_0", "+5", "9" * 5000, "3651", "0"])
def test_numbers_are_ascii_digits_in_range_or_a_400(client: httpx.Client, within_days: str
                                                    ) -> None:
    for response in (client.get("/v1/priors", params={**HANS, "within_days": within_days}),
                     client.post("/v1/priors", json={**HANS, "within_days": within_days[:8]})):
        error = assert_error(response, 400, "invalid-request")
        assert any(p.startswith("within_days must be a whole number") for p in error["problems"])


@pytest.mark.parametrize("field", ["birth_date", "order_date"])
@pytest.mark.parametrize("value", ["٢٠٢٤-٠٢-١٥", "20240215", "2024-W07-4", "2024-02-30"])
def test_dates_are_yyyy_mm_dd_or_a_400(client: httpx.Client, field: str, value: str) -> None:
    error = assert_error(client.get("/v1/priors", params={**HANS, field: value}), 400,
                         "invalid-request")
    assert any(p.startswith(f"{field} must be a date YYYY-MM-DD") for p in error["problems"])


def test_a_refused_request_keeps_the_connection_open(server: str) -> None:
    url = httpx.URL(server)
    connection = http.client.HTTPConnection(url.host, url.port, timeout=10)
    try:
        answers = []
        for within_days in ("²", "30", "9" * 5000, "30"):
            query = urllib.parse.urlencode({**HANS, "within_days": within_days})
            connection.request("GET", f"/v1/priors?{query}", headers=AUTH)
            response = connection.getresponse()
            response.read()
            answers.append((response.status, response.getheader("connection")))
            if len(answers) == 1:
                socket_used = connection.sock
            assert connection.sock is socket_used  # the same keep-alive connection
    finally:
        connection.close()
    assert answers == [(400, None), (200, None), (400, None), (200, None)]


def test_a_url_path_cannot_forge_an_access_log_line(server: str, archive: Path) -> None:
    for path in ("/x%0AFORGED%20ENTRY", "/x%0D%0A2026-01-01%20INFO%20dedup.service:%20GET",
                 "/%1B%5B2J%1B%5D0;owned%07", "/v1/priors%E2%80%AE"):
        assert httpx.get(f"{server}{path}").status_code == 401
    lines = archive.with_suffix(".serve.log").read_text().splitlines()
    assert not [line for line in lines if line.startswith(("FORGED", "2026-01-01"))]
    text = "\n".join(lines)
    assert "GET /x\\x0aFORGED ENTRY 401" in text and "\\x1b[2J\\x1b]0;owned\\x07" in text
    assert "\x1b" not in text and "\u202e" not in text and "/v1/priors\\u202e" in text


def test_a_killed_server_leaves_no_index_build_behind(tmp_path: Path) -> None:
    """Kill -9 the server while it builds a new generation's index in a child process."""
    archive = build_check_archive(tmp_path / "archive.duckdb")
    env, mark = marked_env({})
    with running_server(archive, **env):
        def ours(word: str) -> list[psutil.Process]:
            return [p for p in psutil.process_iter(["cmdline"])
                    if word in " ".join(p.info["cmdline"] or []) and mark_of(p) == mark]

        (server,) = ours(" serve ")
        with Archive.open(archive) as writer:
            publish(writer)
        deadline = time.monotonic() + 30
        while not (builds := ours("_build_to")):
            assert time.monotonic() < deadline, "no index build started"
            time.sleep(0.02)
        scratch = Path(builds[0].info["cmdline"][-1])
        server.kill()
        assert survivors(mark, end=True) == []
        assert not scratch.exists()  # the build removed its scratch folder as it ended
