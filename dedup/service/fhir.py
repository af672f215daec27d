"""A FHIR R4 ImagingStudy search over the check's index: priors where EHRs and viewers look.

``GET /fhir/ImagingStudy`` finds a patient's studies in the same in-memory index the
pre-order check answers from (:mod:`dedup.check.prior_index`), by registration
(``patient.identifier=<issuer>|<patient ID>``, then the records the archive links to it) or by
demographics (``patient.name`` or ``patient.family`` + ``patient.given``, with
``patient.birthdate`` and ``patient.gender``, matched by the check's linkage model),
narrowed by ``started`` (``eq``, ``ge``, ``gt``, ``le``, ``lt``) and ``modality``, and answers
with a ``searchset`` Bundle (:mod:`.fhir_resources`). A search names a patient: there is no
listing of everyone's studies. Values are parsed strictly (:mod:`dedup.check.strict`); a bad
one is a 400 OperationOutcome naming the parameter, never echoing its value. Parameters this
service does not know are ignored, as FHIR asks, and the Bundle's ``self`` link shows what
was used, with a warning; under ``Prefer: handling=strict`` they are a 400. ``GET
/fhir/metadata`` is the CapabilityStatement. Authentication is the HTTP API's bearer token
(:class:`dedup.service.guard.Guard`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dedup.check import Checker
from dedup.check.link import Person, sex_code
from dedup.check.prior_index import Match, PriorIndex, Query, day_number
from dedup.check.strict import calendar_date, whole_number
from dedup.config.viewer import viewer_link
from dedup.match.linkage import normalise_name
from dedup.service.fhir_resources import (
    DCM,
    FHIR_JSON,
    SEARCH_PARAMETERS,
    bundle,
    capability_statement,
    imaging_study,
)
from dedup.service.guard import ApiError, json_response

__all__ = ["router"]

log = logging.getLogger("dedup.service")
router = APIRouter(prefix="/fhir", tags=["fhir"])
_PREFIXES = ("eq", "ge", "gt", "le", "lt")
_GENDERS = {"male": "M", "female": "F", "other": "O", "unknown": "U"}
_MODALITY = re.compile(r"[A-Z0-9]{1,16}")
_SINGLE = frozenset(SEARCH_PARAMETERS) - {"started", "modality"}
_DEFAULT_COUNT, _MOST = 100, 1000
_FIRST_DAY, _LAST_DAY = day_number(date(1, 1, 1)), day_number(date(9999, 12, 31))


@dataclass
class Search:
    """A parsed ImagingStudy search: who, which dates and modalities, how many."""

    issuer: str = ""
    patient_id: str = ""
    name: str = ""
    birth_date: date | None = None
    sex: str = ""
    first_day: int = _FIRST_DAY
    last_day: int = _LAST_DAY
    modalities: list[set[str]] = field(default_factory=list)
    count: int = _DEFAULT_COUNT
    used: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


@router.get("/metadata")
async def metadata(request: Request) -> Response:
    """The CapabilityStatement."""
    return _fhir(capability_statement(_base(request), date.today()))


@router.get("/ImagingStudy")
def search_imaging_study(request: Request) -> Response:
    """Search a patient's studies (see the module's description)."""
    strict = "handling=strict" in request.headers.get("prefer", "").replace(" ", "")
    search = parse_search(list(request.query_params.multi_items()), strict=strict)
    checker: Checker = request.app.state.checker
    index = checker.holder.current()
    matches = _patients(index, search, checker)
    rows = [row for row in index.studies_of(matches, search.first_day, search.last_day)
            if _modality_matches(row["modalities"], search.modalities)]
    studies = [imaging_study(_with_link(row, checker.viewer_url), _subject(row))
               for row in rows[:search.count]]
    log.info("fhir search client=%s by=%s studies=%d", request.state.client,
             "identifier" if search.patient_id else "demographics", len(rows))
    self_url = f"{_base(request)}ImagingStudy?{urlencode(search.used)}"
    warnings = [f"search parameter {name[:40]!r} is not supported and was ignored "
                "(Prefer: handling=strict makes it an error)" for name in search.ignored]
    return _fhir(bundle(studies, len(rows), self_url, _base(request), warnings))


def parse_search(items: list[tuple[str, str]], *, strict: bool = False) -> Search:
    """The search asked for by the query's ``(name, value)`` pairs.

    Raises:
        ApiError: a malformed or repeated value, no patient named, or (``strict``) an
            unknown parameter; every problem is listed, none echoes a value.

    """
    search, problems = Search(), []
    names = [name for name, _ in items]
    for name, value in items:
        if name in _SINGLE and names.count(name) > 1:
            problems.append(f"{name}: given more than once")
        elif name in SEARCH_PARAMETERS or name in ("_count", "_format"):
            try:
                _take(search, name, value.strip())
                search.used.append((name, value))
            except ValueError as exc:
                problems.append(f"{name}: {exc}")
        elif strict:
            problems.append(f"{name[:40]}: not a search parameter of ImagingStudy here; see "
                            "GET /fhir/metadata")
        else:
            search.ignored.append(name)
    problems += _patient_problems(search)
    if problems:
        raise ApiError(400, "invalid-request", "the search is not valid",
                       sorted(set(problems), key=problems.index))
    return search


def _take(search: Search, name: str, value: str) -> None:
    """Read one parameter into ``search`` (``ValueError`` says what is expected)."""
    if name == "patient.identifier":
        system, bar, patient_id = value.partition("|")
        if not bar or not system or not patient_id:
            raise ValueError("must be <issuer>|<patient ID>: an ID means nothing without "
                             "its issuer")
        search.issuer, search.patient_id = system[:200], patient_id[:64]
    elif name in ("patient.name", "patient.family", "patient.given"):
        if not value or len(value) > 200:
            raise ValueError("must be a name of 1 to 200 characters")
        search.name = _name(search.name, name, value)
    elif name == "patient.birthdate":
        search.birth_date = calendar_date(value[2:] if value.startswith("eq") else value)
    elif name == "patient.gender":
        if value not in _GENDERS:
            raise ValueError("must be one of " + ", ".join(_GENDERS))
        search.sex = _GENDERS[value]
    elif name == "started":
        _started(search, value)
    elif name == "modality":
        search.modalities.append({_modality(code) for code in value.split(",")})
    elif name == "_count":
        search.count = whole_number(value, 0, _MOST)
    elif value not in ("json", "application/json", FHIR_JSON):  # _format
        raise ValueError("only json is served (application/fhir+json)")


def _name(so_far: str, name: str, value: str) -> str:
    """The name as FAMILY^GIVEN from ``patient.name``, or from ``patient.family``/``given``."""
    if name == "patient.name":
        return value
    family, _, given = so_far.partition("^")
    return f"{value}^{given}" if name == "patient.family" else f"{family}^{value}"


def _started(search: Search, value: str) -> None:
    prefix = value[:2] if value[:2].isalpha() else "eq"
    if prefix not in _PREFIXES:
        raise ValueError("prefix must be one of " + ", ".join(_PREFIXES))
    day = day_number(calendar_date(value[2:] if value[:2].isalpha() else value))
    low, high = {"eq": (day, day), "ge": (day, _LAST_DAY), "gt": (day + 1, _LAST_DAY),
                 "le": (_FIRST_DAY, day), "lt": (_FIRST_DAY, day - 1)}[prefix]
    search.first_day, search.last_day = max(search.first_day, low), min(search.last_day, high)


def _modality(text: str) -> str:
    system, bar, code = text.strip().rpartition("|")
    if bar and system not in ("", DCM):
        raise ValueError(f"the code system must be {DCM} (DICOM modalities)")
    if not _MODALITY.fullmatch(code.strip().upper()):
        raise ValueError("must be DICOM modality codes such as CT or MR, comma-separated")
    return code.strip().upper()


def _patient_problems(search: Search) -> list[str]:
    if search.name and not normalise_name(search.name).family:
        return ["patient.name: must hold a family name"]
    if search.name and (search.birth_date is None or not search.sex):
        return ["patient.birthdate and patient.gender: required with a name (patients are "
                "found by name, birth date and sex, as the pre-order check finds them)"]
    if not search.patient_id and not search.name:
        return ["name the patient: patient.identifier=<issuer>|<patient ID>, or "
                "patient.name (or patient.family) with patient.birthdate"]
    return []


def _patients(index: PriorIndex, search: Search, checker: Checker) -> list[Match]:
    """The records the search names: its registration, its demographics, or both at once."""
    found: list[list[Match]] = []
    if search.patient_id:
        issuers = [search.issuer, *([search.issuer[8:]] if search.issuer.startswith("urn:oid:")
                                    else [])]
        found.append([m for issuer in issuers
                      for m in index.registered(issuer, search.patient_id)])
    if search.name and search.birth_date is not None:
        query = Query(Person(normalise_name(search.name), sex_code(search.sex), ""),
                      day_number(search.birth_date))
        found.append(index.people(query, prior=checker.settings.link_prior,
                                  threshold=checker.settings.link_threshold))
    if len(found) == 1:
        return found[0]
    both = {m.row for m in found[1]}
    return [m for m in found[0] if m.row in both]


def _modality_matches(modalities: str | None, wanted: list[set[str]]) -> bool:
    held = set(re.split(r"[^A-Z0-9]+", (modalities or "").upper()))
    return all(held & codes for codes in wanted)


def _with_link(row: dict[str, Any], template: str) -> dict[str, Any]:
    start = date(1970, 1, 1)
    return {**row, "study_date": start + timedelta(days=row["study_day"]),
            "viewer_url": viewer_link(template, row["study_uid"])}


def _subject(row: dict[str, Any]) -> str:
    """How the study's patient record matched (never a name, ID or birth date)."""
    return (f"Patient record matched with probability {row['probability']:.4f}: "
            + "; ".join(row["reasons"]))[:400]


def _base(request: Request) -> str:
    return f"{request.base_url}fhir/"


def _fhir(data: Any, status: int = 200) -> Response:
    return json_response(data, status, headers={"cache-control": "no-store"},
                         media_type=FHIR_JSON)
