"""FHIR R4 resources the service answers with: ImagingStudy, Bundle, OperationOutcome.

With the CapabilityStatement; pure functions from values to JSON-ready dicts (no request, no
index).

An ImagingStudy carries the Study Instance UID as its identifier (``urn:dicom:uid`` /
``urn:oid:<uid>``, the R4 convention), ``status`` ``available`` (it is in the archive), the
modalities as DICOM (DCM) codings, the date as ``started``, the instance count, the
description, the procedure family as ``procedureCode`` text, the institution as the
location's display, and the viewer link (:mod:`dedup.config.viewer`) as an extension. Its
``subject`` never names the patient (the service returns no names, IDs or birth dates): its
display says how the record was matched to the search.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from typing import Any

from dedup import __version__

__all__ = ["DCM", "FHIR_JSON", "VIEWER_EXTENSION", "bundle", "capability_statement",
           "imaging_study", "operation_outcome"]

#: The FHIR JSON media type.
FHIR_JSON = "application/fhir+json"
#: DICOM's code system (modalities are its codes).
DCM = "http://dicom.nema.org/resources/ontology/DCM"
#: The extension holding a study's link in the hospital's viewer (a ``valueUrl``).
VIEWER_EXTENSION = "urn:dedup:fhir:StructureDefinition:viewer-link"
_ID = re.compile(r"[A-Za-z0-9.-]{1,64}")
_ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found",
                405: "not-supported", 406: "not-supported", 408: "timeout", 412: "invalid",
                413: "too-long", 415: "not-supported", 503: "transient"}
#: The search parameters of ImagingStudy this service answers, and their FHIR types.
SEARCH_PARAMETERS = {
    "patient.identifier": ("token", "The patient's registration: <issuer>|<patient ID> (the "
                                    "issuer as the archive holds it, or urn:oid:<issuer>)."),
    "patient.name": ("string", "The patient's name, FAMILY^GIVEN or family name first; "
                               "with patient.birthdate and patient.gender."),
    "patient.family": ("string", "The family name (with patient.given and patient.birthdate)."),
    "patient.given": ("string", "The given name."),
    "patient.birthdate": ("date", "The birth date, YYYY-MM-DD (eq only)."),
    "patient.gender": ("token", "male, female, other or unknown; with a name."),
    "started": ("date", "The study date: eq, ge, gt, le or lt and YYYY-MM-DD; repeatable."),
    "modality": ("token", "DICOM modality code, e.g. CT or "
                          "http://dicom.nema.org/resources/ontology/DCM|CT; commas: any of."),
}


def resource_id(study_uid: str) -> str:
    """The ImagingStudy id: the UID itself when it is a valid FHIR id, else a digest of it."""
    if _ID.fullmatch(study_uid):
        return study_uid
    return "sha256-" + hashlib.sha256(study_uid.encode()).hexdigest()[:48]


def imaging_study(row: dict[str, Any], subject: str) -> dict[str, Any]:
    """One study of the index as an ImagingStudy.

    Args:
        row: a row of :meth:`dedup.check.prior_index.PriorIndex.studies_of` with its
            ``study_date`` and ``viewer_url``.
        subject: how the patient record was matched (never a name or ID).

    """
    codes = sorted({code for code in re.split(r"[^A-Z0-9]+", (row["modalities"] or "").upper())
                    if code})
    study: dict[str, Any] = {
        "resourceType": "ImagingStudy", "id": resource_id(row["study_uid"]),
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{row['study_uid']}"}],
        "status": "available",
        "subject": {"type": "Patient", "display": subject},
        "started": row["study_date"].isoformat(),
    }
    if codes:
        study["modality"] = [{"system": DCM, "code": code} for code in codes]
    if row.get("n_instances"):
        study["numberOfInstances"] = int(row["n_instances"])
    if row.get("family"):
        study["procedureCode"] = [{"text": row["family"]}]
    if row.get("institution"):
        study["location"] = {"display": row["institution"]}
    if row.get("description"):
        study["description"] = row["description"]
    if row.get("viewer_url"):
        study["extension"] = [{"url": VIEWER_EXTENSION, "valueUrl": row["viewer_url"]}]
    return study


def bundle(studies: list[dict[str, Any]], total: int, self_url: str, base_url: str,
           warnings: list[str]) -> dict[str, Any]:
    """A ``searchset`` Bundle: the studies, and an OperationOutcome for what was ignored."""
    entries: list[dict[str, Any]] = [
        {"fullUrl": f"{base_url}ImagingStudy/{study['id']}", "resource": study,
         "search": {"mode": "match"}} for study in studies]
    if warnings:
        entries.append({"resource": operation_outcome(warnings, severity="warning"),
                        "search": {"mode": "outcome"}})
    return {"resourceType": "Bundle", "type": "searchset", "total": total,
            "link": [{"relation": "self", "url": self_url}], "entry": entries}


def operation_outcome(messages: list[str], *, status: int = 400, severity: str = "error"
                      ) -> dict[str, Any]:
    """An OperationOutcome with one issue per message (code from the HTTP status)."""
    code = ("informational" if severity == "warning"
            else _ISSUE_CODES.get(status, "invalid" if status < 500 else "exception"))
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": message}
                      for message in messages or ["error"]]}


def capability_statement(base_url: str, today: date) -> dict[str, Any]:
    """What this FHIR endpoint does: search ImagingStudy, JSON only, bearer tokens."""
    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": today.isoformat(),
        "kind": "instance", "fhirVersion": "4.0.1", "format": [FHIR_JSON, "json"],
        "publisher": "dedup",
        "software": {"name": "dedup", "version": __version__},
        "implementation": {"description": "Prior imaging in the shared archive (read-only)",
                           "url": base_url.rstrip("/")},
        "rest": [{
            "mode": "server",
            "security": {"description": "Send Authorization: Bearer <token> (the tokens of "
                                        "the HTTP API); 401 without a valid one."},
            "resource": [{
                "type": "ImagingStudy", "interaction": [{"code": "search-type"}],
                "searchParam": [{"name": name, "type": kind, "documentation": text}
                                for name, (kind, text) in SEARCH_PARAMETERS.items()]
                + [{"name": "_count", "type": "number",
                    "documentation": "Most studies returned (0-1000, default 100), most "
                                     "recent first; total counts them all."}],
            }],
        }],
    }
