"""The FHIR ImagingStudy search of a real `dedup serve`, validated with fhir.resources (R4B)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from dedup.config.viewer import PRESETS
from dedup.service.fhir_resources import DCM, VIEWER_EXTENSION
from tests.service.conftest import AUTH, running_server
from tests.service.test_cds_hooks import CT_HEAD, hook_request

OHIF = PRESETS["OHIF"]
HANS = {"patient.name": "MUELLER^HANS", "patient.birthdate": "1950-03-14",
        "patient.gender": "male"}
#: Hans's studies as St. Mary registered him, with Klinikum Nord's (linked in the archive).
REGISTERED = ["1.2.3.9", "1.2.3.8", "1.2.3.3", "1.2.3.4", "1.2.3.1", "1.2.3.2"]


@pytest.fixture(scope="module")
def fhir(archive: Path) -> Iterator[httpx.Client]:
    with running_server(archive, "fhir", DEDUP_VIEWER_URL=OHIF) as url, \
            httpx.Client(base_url=f"{url}/fhir", headers=AUTH, timeout=10) as http:
        yield http


def valid(kind: str, data: dict[str, Any]) -> Any:
    """``data`` parsed as FHIR (R4B: the same ImagingStudy, Bundle and OperationOutcome)."""
    module = __import__(f"fhir.resources.R4B.{kind.lower()}", fromlist=[kind])
    return getattr(module, kind).model_validate(data)


def uids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["identifier"][0]["value"].removeprefix("urn:oid:")
            for e in bundle["entry"] if e["search"]["mode"] == "match"]


def test_search_by_registration_returns_the_linked_records_studies(fhir: httpx.Client) -> None:
    reply = fhir.get("/ImagingStudy", params={"patient.identifier": "STMARY|SM-1"})
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/fhir+json")
    bundle = reply.json()
    valid("Bundle", bundle)
    assert (bundle["type"], bundle["total"]) == ("searchset", 6)
    assert uids(bundle) == REGISTERED  # most recent first; neither the twin's nor Riverside's
    study = bundle["entry"][4]["resource"]
    valid("ImagingStudy", study)
    assert study["id"] == "1.2.3.1" and study["status"] == "available"
    assert study["identifier"] == [{"system": "urn:dicom:uid", "value": "urn:oid:1.2.3.1"}]
    assert study["started"] == "2024-01-10" and study["numberOfInstances"] == 2
    assert study["modality"] == [{"system": DCM, "code": "CT"}]
    assert study["location"] == {"display": "St. Mary Hospital"}
    assert study["procedureCode"] == [{"text": "CT HEAD"}]
    assert study["extension"] == [{"url": VIEWER_EXTENSION,
                                   "valueUrl": OHIF.format(study_uid="1.2.3.1")}]
    subject = bundle["entry"][3]["resource"]["subject"]  # Klinikum Nord's, linked
    assert "linked in the archive" in subject["display"]
    assert "MUELLER" not in reply.text and "SM-1" not in str(bundle["entry"])
    assert "1950" not in str(bundle["entry"])


def test_started_and_modality_narrow_the_search(fhir: httpx.Client) -> None:
    params = [("patient.identifier", "urn:oid:STMARY|SM-1"), ("started", "ge2024-01-01"),
              ("started", "le2024-02-15"), ("modality", f"MR,{DCM}|CT")]
    bundle = fhir.get("/ImagingStudy", params=params).json()
    assert uids(bundle) == ["1.2.3.8", "1.2.3.3", "1.2.3.4", "1.2.3.1"]
    assert parse_qsl(urlsplit(bundle["link"][0]["url"]).query) == params
    assert uids(fhir.get("/ImagingStudy", params=[*params[:3], ("started", "gt2024-02-01")])
                .json()) == ["1.2.3.8"]
    assert fhir.get("/ImagingStudy", params=[*params[:3], ("modality", "MR")]).json()[
        "total"] == 0
    one = fhir.get("/ImagingStudy", params=[*params, ("_count", "1")]).json()
    assert (uids(one), one["total"]) == (["1.2.3.8"], 4)


def test_search_by_name_birth_date_and_sex_uses_the_linkage_model(fhir: httpx.Client) -> None:
    bundle = fhir.get("/ImagingStudy", params={**HANS, "started": "le2024-02-15"}).json()
    valid("Bundle", bundle)
    # St. Mary, Klinikum Nord (linked) and Riverside (the model links the swapped name);
    # never the twin Karl (1.2.3.6) nor the namesake of the other sex (1.2.3.7)
    assert set(uids(bundle)) == {"1.2.3.1", "1.2.3.2", "1.2.3.3", "1.2.3.4", "1.2.3.5",
                                 "1.2.3.8"}
    split = {"patient.family": "Mueller", "patient.given": "Hans",
             "patient.birthdate": "eq1950-03-14", "patient.gender": "male",
             "started": "le2024-02-15"}
    assert set(uids(fhir.get("/ImagingStudy", params=split).json())) == set(uids(bundle))
    both = fhir.get("/ImagingStudy", params={**HANS, "patient.identifier": "RIVERSIDE|RV-1"})
    assert uids(both.json()) == ["1.2.3.5"]
    karl = fhir.get("/ImagingStudy", params={**HANS, "patient.name": "MUELLER^KARL"}).json()
    assert uids(karl) == ["1.2.3.6"]


def test_unknown_parameters_are_ignored_unless_strict(fhir: httpx.Client) -> None:
    params = {"patient.identifier": "STMARY|SM-1", "_sort": "-started", "bodysite": "x"}
    bundle = fhir.get("/ImagingStudy", params=params).json()
    valid("Bundle", bundle)
    assert uids(bundle) == REGISTERED
    assert bundle["link"][0]["url"].endswith("/fhir/ImagingStudy?patient.identifier=STMARY%7CSM-1")
    outcome = bundle["entry"][-1]
    assert outcome["search"]["mode"] == "outcome"
    assert len(outcome["resource"]["issue"]) == 2
    strict = fhir.get("/ImagingStudy", params=params, headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400
    problems = [i.diagnostics for i in valid("OperationOutcome", strict.json()).issue]
    assert any(p.startswith("_sort:") for p in problems)
    assert any(p.startswith("bodysite:") for p in problems)


@pytest.mark.parametrize(("params", "expected"), [
    ({}, "name the patient"),
    ({"patient.identifier": "SM-1"}, "patient.identifier: must be <issuer>|<patient ID>"),
    ({"patient.identifier": "|SM-1"}, "patient.identifier: must be <issuer>|<patient ID>"),
    ({"patient.name": "MUELLER^HANS"}, "patient.birthdate and patient.gender: required"),
    ({**HANS, "patient.birthdate": "14.03.1950"}, "patient.birthdate: must be a date"),
    ({**HANS, "patient.birthdate": "1950-02-30"}, "patient.birthdate: must be a date"),
    ({**HANS, "patient.gender": "M"}, "patient.gender: must be one of"),
    ({**HANS, "started": "sa2024-01-01"}, "started: prefix must be one of"),
    ({**HANS, "started": "ge2024-1-1"}, "started: must be a date"),
    ({**HANS, "started": "ge２０２４-01-01"}, "started: must be a date"),
    ({**HANS, "modality": "C T"}, "modality: must be DICOM modality codes"),
    ({**HANS, "modality": "http://loinc.org|CT"}, "modality: the code system must be"),
    ({**HANS, "_count": "-1"}, "_count: must be a whole number from 0 to 1000"),
    ({**HANS, "_format": "xml"}, "_format: only json"),
])
def test_bad_searches_are_400_operation_outcomes(fhir: httpx.Client, params: dict[str, str],
                                                 expected: str) -> None:
    reply = fhir.get("/ImagingStudy", params=params)
    assert reply.status_code == 400
    assert reply.headers["content-type"].startswith("application/fhir+json")
    outcome = valid("OperationOutcome", reply.json())
    assert any(i.diagnostics.startswith(expected) for i in outcome.issue), reply.json()
    assert "14.03.1950" not in reply.text and "MUELLER" not in reply.text


def test_repeated_single_parameters_are_refused(fhir: httpx.Client) -> None:
    reply = fhir.get("/ImagingStudy", params=[("patient.identifier", "STMARY|SM-1"),
                                              ("patient.identifier", "KLINORD|KN-1")])
    assert reply.status_code == 400
    assert reply.json()["issue"][1]["diagnostics"] == "patient.identifier: given more than once"


def test_authentication_is_the_http_apis(fhir: httpx.Client) -> None:
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong-token-0123456789"}):
        reply = fhir.get("/ImagingStudy", params={"patient.identifier": "STMARY|SM-1"},
                         headers=headers)
        assert reply.status_code == 401
        assert reply.headers["content-type"].startswith("application/fhir+json")
        assert valid("OperationOutcome", reply.json()).issue[0].code == "login"
    missing = fhir.get("/Patient")
    assert missing.status_code == 404
    assert valid("OperationOutcome", missing.json()).issue[0].code == "not-found"


def test_capability_statement(fhir: httpx.Client) -> None:
    reply = fhir.get("/metadata")
    assert reply.status_code == 200
    statement = valid("CapabilityStatement", reply.json())
    assert statement.fhirVersion == "4.0.1"
    resource = statement.rest[0].resource[0]
    assert resource.type == "ImagingStudy"
    assert {p.name for p in resource.searchParam} >= {"patient.identifier", "started",
                                                      "modality", "patient.birthdate"}


def test_the_viewer_link_is_in_checks_and_cds_cards(fhir: httpx.Client) -> None:
    base = str(fhir.base_url).removesuffix("/fhir/").removesuffix("/fhir")
    check = httpx.post(f"{base}/v1/priors", headers=AUTH, json={
        "name": "MUELLER^HANS", "birth_date": "1950-03-14", "sex": "M",
        "procedure": "CT HEAD", "order_date": "2024-02-15"}).json()
    assert [p["viewer_url"] for p in check["priors"]] == [
        OHIF.format(study_uid=uid) for uid in ("1.2.3.4", "1.2.3.1", "1.2.3.5")]
    sign = "dedup-prior-imaging-sign"
    reply = httpx.post(f"{base}/cds-services/{sign}", headers=AUTH,
                       json=hook_request("order-sign", CT_HEAD))
    (card,) = reply.json()["cards"]
    assert [(link["url"], link["type"]) for link in card["links"]] == [
        (OHIF.format(study_uid=uid), "absolute") for uid in ("1.2.3.4", "1.2.3.1", "1.2.3.5")]
