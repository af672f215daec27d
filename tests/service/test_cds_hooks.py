"""The CDS Hooks service, driven with requests shaped like the specification's examples."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from dedup.check.log import CheckLog
from tests.check.archive import BORN, LOCATION, ORDER_DATE, PRIORS_OF_HANS
from tests.service.conftest import audited

SELECT, SIGN = "dedup-prior-imaging-select", "dedup-prior-imaging-sign"
HANS_ORDER = {"name": "MUELLER^HANS", "birth_date": BORN.isoformat(), "sex": "M",
              "order_date": ORDER_DATE.isoformat()}
PATIENT = {"resourceType": "Patient", "id": "1288992", "active": True, "gender": "male",
           "birthDate": BORN.isoformat(),
           "name": [{"use": "official", "family": "Mueller", "given": ["Hans"]}]}
#: The ServiceRequest of the CDS Hooks PAMA example, for a head CT (CPT 70450).
CT_HEAD = {"resourceType": "ServiceRequest", "id": "example-MRI-59879846", "status": "draft",
           "intent": "plan",
           "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "70450"}],
                    "text": "CT head without contrast"},
           "subject": {"reference": "Patient/1288992"},
           "occurrenceDateTime": f"{ORDER_DATE.isoformat()}T09:00:00Z",
           "reasonCode": [{"coding": [{"system": "http://snomed.info/sct",
                                       "code": "25064002", "display": "Headache"}]}]}
#: The non-imaging draft orders of the specification's order-select example (R4).
DIET = {"resourceType": "NutritionOrder", "id": "pureeddiet-simple", "status": "draft",
        "patient": {"reference": "Patient/1288992"}, "dateTime": "2014-09-17",
        "oralDiet": {"type": [{"coding": [{"system": "http://snomed.info/sct",
                                           "code": "226211001", "display": "Pureed diet"}],
                               "text": "Pureed diet"}]}}
DRUG = {"resourceType": "MedicationRequest", "id": "smart-MedicationRequest-103",
        "status": "draft", "intent": "order",
        "medicationCodeableConcept": {"coding": [{
            "system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "617993",
            "display": "Amoxicillin 120 MG/ML / clavulanate potassium 8.58 MG/ML Oral "
                       "Suspension"}]},
        "subject": {"reference": "Patient/1288992"}}


def hook_request(hook: str, *orders: dict[str, Any], selections: list[str] | None = None,
                 patient: dict[str, Any] | None = PATIENT) -> dict[str, Any]:
    context: dict[str, Any] = {
        "userId": "PractitionerRole/123", "patientId": "1288992", "encounterId": "89284",
        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": o} for o in orders]}}
    if hook == "order-select":
        context["selections"] = selections if selections is not None else [
            f"{o['resourceType']}/{o['id']}" for o in orders]
    request = {"hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
               "fhirServer": "http://hooks.smarthealthit.org:9080", "hook": hook,
               "fhirAuthorization": {"access_token": "some-opaque-fhir-access-token",
                                     "token_type": "Bearer", "expires_in": 300,
                                     "scope": "user/Patient.read user/Observation.read",
                                     "subject": "cds-service4"},
               "context": context}
    if patient is not None:
        request["prefetch"] = {"patient": patient}
    return request


def test_discovery_lists_a_service_per_hook(client: httpx.Client) -> None:
    services = client.get("/cds-services").json()["services"]
    assert {(s["id"], s["hook"]) for s in services} == {(SELECT, "order-select"),
                                                          (SIGN, "order-sign")}
    for service in services:
        assert service["description"] and service["title"]
        assert service["prefetch"] == {"patient": "Patient/{{context.patientId}}"}


@pytest.mark.parametrize(("service", "hook"), [(SELECT, "order-select"), (SIGN, "order-sign")])
def test_a_prior_gives_a_warning_card(client: httpx.Client, service: str, hook: str) -> None:
    response = client.post(f"/cds-services/{service}", json=hook_request(hook, DIET, CT_HEAD,
                                                                          DRUG))
    assert response.status_code == 200, response.text
    (card,) = response.json()["cards"]
    assert card["indicator"] == "warning" and len(card["summary"]) < 140
    assert card["summary"].startswith("Possible repeat CT HEAD: prior 14 days ago")
    assert card["source"]["label"] and card["source"]["topic"]["code"] == "prior-imaging"
    assert [link["type"] for link in card["links"]] == ["absolute"] * 3
    assert card["links"][0]["url"].endswith(f"/v1/studies/{PRIORS_OF_HANS[0]}")
    assert all(uid in card["detail"] for uid in PRIORS_OF_HANS)
    (suggestion,) = card["suggestions"]
    assert card["selectionBehavior"] == "at-most-one"
    assert suggestion["actions"][0] == {"type": "delete", "description": suggestion[
        "actions"][0]["description"], "resourceId": "ServiceRequest/example-MRI-59879846"}
    assert all(r["display"] for r in card["overrideReasons"])
    link = client.get(card["links"][0]["url"].split(str(client.base_url))[-1].lstrip("/"))
    assert link.json()["study_uid"] == PRIORS_OF_HANS[0]


def test_no_prior_no_card(client: httpx.Client) -> None:
    knee = copy.deepcopy(CT_HEAD)
    knee["code"] = {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "73721"}],
                    "text": "MRI knee"}
    stranger = {**PATIENT, "name": [{"family": "Okafor", "given": ["Peter"]}]}
    for request in (hook_request("order-sign", knee), hook_request("order-sign", CT_HEAD,
                                                                   patient=stranger)):
        assert client.post(f"/cds-services/{SIGN}", json=request).json() == {"cards": []}


def test_the_specifications_order_select_example_has_no_imaging_order(
        client: httpx.Client) -> None:
    request = hook_request("order-select", DIET, DRUG)
    assert client.post(f"/cds-services/{SELECT}", json=request).json() == {"cards": []}
    unselected = hook_request("order-select", CT_HEAD, DIET, selections=["NutritionOrder/"
                                                                         "pureeddiet-simple"])
    assert client.post(f"/cds-services/{SELECT}", json=unselected).json() == {"cards": []}


def test_each_order_checked_is_audited(client: httpx.Client, archive: object) -> None:
    before = len(CheckLog(archive).rows("checks"))  # type: ignore[arg-type]
    client.post(f"/cds-services/{SIGN}", json=hook_request("order-sign", CT_HEAD, DIET))
    rows = audited(archive, lambda rows: len(rows) > before)  # type: ignore[arg-type]
    assert len(rows) == before + 1
    assert rows[-1]["channel"] == "cds-hooks"
    assert rows[-1]["client"] == "sched PractitionerRole/123"


def card_of(client: httpx.Client) -> str:
    response = client.post(f"/cds-services/{SIGN}", json=hook_request("order-sign", CT_HEAD))
    assert response.status_code == 200, response.text
    return str(response.json()["cards"][0]["uuid"])


def test_feedback_records_outcomes(client: httpx.Client, archive: object) -> None:
    accepted, overridden = card_of(client), card_of(client)
    feedback = {"feedback": [
        {"card": accepted, "outcome": "accepted",
         "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
         "outcomeTimestamp": "2021-12-11T10:05:31Z"},
        {"card": overridden, "outcome": "overridden",
         "overrideReason": {"reason": {"code": "clinical-change",
                                       "system": "urn:dedup:override-reason",
                                       "display": "Clinical status changed since the prior "
                                                  "study"},
                            "userComment": "A comment entered by the clinician."},
         "outcomeTimestamp": "2020-12-11T00:00:00Z"}]}
    sent = datetime.now(UTC).replace(tzinfo=None)
    response = client.post(f"/cds-services/{SIGN}/feedback", json=feedback)
    assert response.status_code == 200
    assert response.json() == {"recorded": 2, "unchanged": 0, "conflicts": []}
    again = client.post(f"/cds-services/{SIGN}/feedback", json=feedback)  # repeated: harmless
    assert again.json() == {"recorded": 0, "unchanged": 2, "conflicts": []}
    rows = {r["check_id"]: r for r in CheckLog(archive).rows("outcomes")  # type: ignore[arg-type]
            if r["check_id"] in (accepted, overridden)}
    assert rows[accepted]["outcome"] == "withdrawn" and rows[accepted]["reason"] is None
    assert rows[overridden]["outcome"] == "ordered-anyway"
    assert rows[overridden]["reason"] == ("Clinical status changed since the prior study: "
                                          "A comment entered by the clinician.")
    assert rows[overridden]["reported_at"].startswith("2020-12-11 00:00:00")  # as reported
    assert datetime.fromisoformat(rows[overridden]["decided_at"]) >= sent  # the server's clock
    assert rows[overridden]["channel"] == "cds-hooks"


def cds_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["severity"] == "error"
    assert body["error"]["status"] == status and "Traceback" not in response.text
    return body


def test_bad_cds_requests(client: httpx.Client, server: str) -> None:
    url = f"/cds-services/{SIGN}"
    cds_error(client.post(url, json=hook_request("order-sign", CT_HEAD, patient=None)), 412)
    no_birth = {k: v for k, v in PATIENT.items() if k != "birthDate"}
    body = cds_error(client.post(url, json=hook_request("order-sign", CT_HEAD,
                                                        patient=no_birth)), 400)
    assert "patient birth_date is required (YYYY-MM-DD)" in body["error"]["problems"]
    broken = hook_request("order-sign", CT_HEAD)
    del broken["context"]["draftOrders"]
    cds_error(client.post(url, json=broken), 400)
    cds_error(client.post(url, json=hook_request("order-select", CT_HEAD)), 400)  # wrong hook
    no_selection = hook_request("order-select", CT_HEAD)
    del no_selection["context"]["selections"]
    cds_error(client.post(f"/cds-services/{SELECT}", json=no_selection), 400)
    cds_error(client.post(url, json={"hook": "order-sign"}), 400)
    cds_error(client.post(url, content=b"[", headers={"content-type": "application/json"}),
              400)
    cds_error(client.post(url, content=b"hook=x", headers={"content-type": "text/plain"}), 415)
    cds_error(client.post("/cds-services/unknown", json=hook_request("order-sign")), 404)
    cds_error(httpx.post(f"{server}{url}", json=hook_request("order-sign", CT_HEAD)), 401)
    cds_error(httpx.get(f"{server}/cds-services"), 401)


def test_bad_feedback(client: httpx.Client) -> None:
    url = f"/cds-services/{SIGN}/feedback"
    card = card_of(client)
    good = {"card": card, "outcome": "overridden", "outcomeTimestamp": "2020-12-11T00:00:00Z"}
    cds_error(client.post(url, json={"feedback": [{**good, "card": "not-a-card"}]}), 404)
    cds_error(client.post(url, json={"feedback": [{**good, "outcome": "ignored"}]}), 400)
    cds_error(client.post(url, json={"feedback": [{**good, "outcome": "accepted"}]}), 400)
    cds_error(client.post(url, json={"feedback": [{**good, "outcomeTimestamp": "soon"}]}), 400)
    cds_error(client.post(url, json={"feedback": []}), 400)


@pytest.mark.parametrize("mangle", [
    lambda r: r["context"]["draftOrders"].update(entry=5),
    lambda r: r["context"]["draftOrders"]["entry"][0].update(resource="ServiceRequest"),
    lambda r: r["context"]["draftOrders"]["entry"][0]["resource"].update(
        code="CT", bodySite=3, occurrenceDateTime=7, occurrencePeriod=[1]),
    lambda r: r["context"]["draftOrders"]["entry"][0]["resource"]["code"].update(
        coding=[None, {"code": 70450}, "x"], text=["CT"]),
    lambda r: r["prefetch"]["patient"].update(name=[{"family": 7, "given": "Hans"}]),
    lambda r: r["prefetch"]["patient"].update(name="Hans", gender=["male"], birthDate=1950),
    lambda r: r["context"].update(selections=[{"id": 1}], userId=5),
    lambda r: r.update(prefetch=[]),
    lambda r: r.update(context=[]),
])
def test_mangled_fhir_is_a_4xx_or_ignored_never_a_500(client: httpx.Client, mangle: Any
                                                       ) -> None:
    request = copy.deepcopy(hook_request("order-select", CT_HEAD))  # PATIENT too
    mangle(request)
    response = client.post(f"/cds-services/{SELECT}", json=request)
    assert response.status_code < 500 and "Traceback" not in response.text


@pytest.mark.parametrize("timestamp", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00",
                                       "2020-12-11T00:00:00+24:00", "２020-12-11T00:00:00Z",
                                       "2020-12-11"])
def test_feedback_with_one_bad_item_records_none(client: httpx.Client, archive: object,
                                                 timestamp: str) -> None:
    first, second = card_of(client), card_of(client)
    feedback = {"feedback": [
        {"card": first, "outcome": "overridden", "outcomeTimestamp": "2020-12-11T00:00:00Z"},
        {"card": second, "outcome": "overridden", "outcomeTimestamp": timestamp}]}
    body = cds_error(client.post(f"/cds-services/{SIGN}/feedback", json=feedback), 400)
    assert body["error"]["problems"] == [
        "feedback[1].outcomeTimestamp must be a date-time YYYY-MM-DDThh:mm:ss in UTC, or with "
        "an offset (e.g. 2020-12-11T10:00:00Z or 2020-12-11T11:00:00+01:00), between the "
        "years 1900 and 9999"]
    recorded = {r["check_id"] for r in CheckLog(archive).rows("outcomes")}  # type: ignore[arg-type]
    assert not recorded & {first, second}
    feedback["feedback"][1]["card"] = "no-such-card"
    feedback["feedback"][1]["outcomeTimestamp"] = "2020-12-11T00:00:00Z"
    cds_error(client.post(f"/cds-services/{SIGN}/feedback", json=feedback), 404)
    assert first not in {r["check_id"] for r in CheckLog(archive).rows("outcomes")}  # type: ignore[arg-type]


def ct_heads(n: int) -> list[dict[str, Any]]:
    """``n`` draft head CT orders, each with its own id."""
    return [{**CT_HEAD, "id": f"ct-{k}"} for k in range(n)]


def test_the_orders_of_one_call_are_bounded(client: httpx.Client, archive: object,
                                            configured_server: str) -> None:
    with httpx.Client(base_url=configured_server, headers=client.headers) as configured:
        url = f"/cds-services/{SELECT}"
        assert len(configured.post(url, json=hook_request("order-select", *ct_heads(3))
                                   ).json()["cards"]) == 3  # check_max_orders=3
        before = len(CheckLog(archive).rows("checks"))  # type: ignore[arg-type]
        error = cds_error(configured.post(url, json=hook_request("order-select",
                                                                 *ct_heads(4))), 400)
        assert "holds 4 orders to check; this service checks at most 3 per call" in str(
            error["error"]["message"])
        assert len(CheckLog(archive).rows("checks")) == before  # type: ignore[arg-type]
        unselected = hook_request("order-select", *ct_heads(5), selections=[
            "ServiceRequest/ct-0"])  # only the selected orders count
        assert len(configured.post(url, json=unselected).json()["cards"]) == 1


def test_file_paths_leave_the_server_only_when_configured(client: httpx.Client,
                                                          configured_server: str) -> None:
    question = {**HANS_ORDER, "procedure": "CT HEAD"}
    with httpx.Client(base_url=configured_server, headers=client.headers) as configured:
        for http, shown in ((client, False), (configured, True)):
            priors = http.get("/v1/priors", params=question).json()["priors"]
            assert all(("location" in prior) is shown for prior in priors)
            assert any(LOCATION in str(prior.get("location")) for prior in priors) is shown
            study = http.get("/v1/studies/1.2.3.1").json()
            assert ("first_instance_location" in study) is shown
            response = http.post(f"/cds-services/{SIGN}", json=hook_request("order-sign",
                                                                             CT_HEAD))
            (card,) = response.json()["cards"]
            assert (LOCATION in card["detail"]) is shown
            assert ("| images |" in card["detail"]) is shown
