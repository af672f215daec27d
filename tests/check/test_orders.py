"""The evaluation set of orders (tests/check/orders.py): every answer right, on every channel.

Each order is asked through the library; a sample through ``dedup check``, the HTTP API and
the CDS Hooks service (FHIR ``bodySite`` with a SNOMED CT laterality). The archive is built
by ``dedup index`` from generated DICOM studies, so the families, regions and sides asked
about are the ones the batch derived from the headers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from dedup.archive.db import Archive
from dedup.check import Checker, CheckResult
from dedup.config import Settings
from tests.check.orders import ORDERS, REPEATS, Order, build_order_archive
from tests.conftest import dedup_cli
from tests.service.conftest import AUTH, running_server


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    return build_order_archive(tmp_path_factory.mktemp("orders"))


@pytest.fixture(scope="module")
def checker(built: tuple[Path, dict[str, str]]) -> Checker:
    archive, _ = built
    return Checker(archive, Settings(archive=str(archive)))


def _got(result: CheckResult | dict[str, Any], uids: dict[str, str]) -> tuple[tuple[str, ...],
                                                                              str]:
    """The priors as study keys (``?`` marking a possible one) and the answer."""
    keys = {uid: key for key, uid in uids.items()}
    data = result if isinstance(result, dict) else result.as_dict()
    return tuple(keys[p["study_uid"]] + ("?" if p["answer"] == "possible" else "")
                 for p in data["priors"]), data["answer"]


@pytest.mark.parametrize("order", ORDERS, ids=[o.what for o in ORDERS])
def test_every_order_gets_the_right_answer(order: Order, checker: Checker,
                                           built: tuple[Path, dict[str, str]]) -> None:
    question = checker.parse(**order.who, **order.fields,
                             order_date=order.order_date.isoformat())
    result = checker.check(question)
    assert _got(result, built[1]) == (order.priors, order.answer), result.recommendation
    assert all(0 <= p.days_ago <= result.window_days for p in result.priors)
    assert result.basis and "NOVAK" not in result.recommendation.upper()


def test_the_batch_finds_repeats_only_on_the_same_side(built: tuple[Path, dict[str, str]]
                                                       ) -> None:
    archive, uids = built
    keys = {uid: key for key, uid in uids.items()}
    with Archive.open(archive, read_only=True) as db:
        rows = db.con.execute("SELECT study_uid, duplicate_of_study_uid FROM duplicates "
                              "WHERE kind = 'repeat'").fetchall()
        sides = dict(db.con.execute(
            "SELECT s.study_uid, p.laterality FROM studies AS s "
            "JOIN study_procedures AS p USING (study_key)").fetchall())
    assert {(keys[a], keys[b]) for a, b in rows} == REPEATS
    assert [sides[uids[k]] for k in ("a_xr_hand_l", "a_xr_knee", "h_xr_knees_b",
                                     "h_xr_shoulder_l", "a_ct_head")] == ["L", None, "B", "L",
                                                                          "U"]


def _by(what: str) -> Order:
    return next(o for o in ORDERS if o.what.startswith(what))


@pytest.mark.parametrize(("what", "code"), [
    ("XR hand left", 5), ("XR hands bilateral", 5), ("XR shoulder right", 0),
    ("fluoroscopy fistulogram", 0), ("MR of a body part", 5)])
def test_the_cli_answers_the_same_and_never_exits_2_for_a_valid_order(
        what: str, code: int, built: tuple[Path, dict[str, str]]) -> None:
    order = _by(what)
    args = [f"--{k.replace('_', '-')}={v}" for k, v in {**order.who, **order.fields}.items()]
    out = dedup_cli("check", "--archive", str(built[0]), "--date",
                    order.order_date.isoformat(), "--format", "json", *args, check=False)
    assert out.returncode == code, out.stderr
    assert _got(json.loads(out.stdout), built[1]) == (order.priors, order.answer)


def test_http_and_cds_hooks_take_the_side(built: tuple[Path, dict[str, str]]) -> None:
    archive, uids = built
    hans = _by("MR knee right").who
    with running_server(archive) as url:
        for side, expected in (("R", ("h_mr_knee_r",)), ("L", ()), ("", ("h_mr_knee_r?",))):
            answer = httpx.get(f"{url}/v1/priors", headers=AUTH, timeout=30, params={
                **hans, "procedure": "MR KNEE", "laterality": side,
                "order_date": "2024-06-15"})
            assert answer.status_code == 200, answer.text
            assert _got(answer.json(), uids)[0] == expected
        cards = {side: _cds_cards(url, hans, code) for side, code in (
            ("right", "24028007"), ("left", "7771000"))}
    assert len(cards["right"]) == 1 and not cards["left"]
    assert uids["h_mr_knee_r"] in cards["right"][0]["detail"]


def _cds_cards(url: str, who: dict[str, str], side_code: str) -> list[dict[str, Any]]:
    family, given = who["name"].split("^")
    order = {"resourceType": "ServiceRequest", "id": "mr-knee", "status": "draft",
             "intent": "plan", "code": {"text": "MRI knee without contrast"},
             "bodySite": [{"coding": [
                 {"system": "http://snomed.info/sct", "code": "72696002", "display": "Knee"},
                 {"system": "http://snomed.info/sct", "code": side_code}]}],
             "occurrenceDateTime": "2024-06-15T09:00:00Z"}
    body = {"hook": "order-sign", "hookInstance": "b3f8b0a2-7d1e-4c4e-9a57-0c6a3f1d2e11",
            "context": {"userId": "Practitioner/1", "patientId": "p1",
                        "draftOrders": {"resourceType": "Bundle",
                                        "entry": [{"resource": order}]}},
            "prefetch": {"patient": {"resourceType": "Patient", "gender": "male",
                                     "birthDate": who["birth_date"],
                                     "name": [{"family": family, "given": [given]}]}}}
    answer = httpx.post(f"{url}/cds-services/dedup-prior-imaging-sign", json=body,
                        headers=AUTH, timeout=30)
    assert answer.status_code == 200, answer.text
    cards: list[dict[str, Any]] = answer.json()["cards"]
    return cards
