"""A pre-order question: who the patient is and which procedure is about to be ordered.

A question names the patient (name, birth date, sex, optionally issuer and ID), the
procedure (a family such as ``CT HEAD`` or ``XR HAND``, or modality + body part + description
+ code, normalised by :mod:`dedup.match.procedures`) and its side (``L``, ``R``, ``B``, given
or read from the words). :func:`parse_question` validates all of it at once and resolves the
family and its look-back window: any order with a modality gets one (a curated family, else
the modality class and a DICOM body region, else the class and the body part as written);
its messages name the field and the expected form but never echo a name, ID or birth date.
:class:`Channel` and :class:`Outcome` are the check log's words for where a question came
from and what was decided after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from dedup.check.strict import calendar_date, whole_number
from dedup.errors import UsageError
from dedup.match.linkage import normalise_name
from dedup.match.procedures import (
    MODALITY_GROUPS,
    Family,
    ProcedureRules,
    classify_procedure,
    curated_family,
    modality_group,
)
from dedup.match.regions import laterality, order_side

__all__ = ["MODALITY_WORDS", "Channel", "Outcome", "Question", "demographic_problems",
           "parse_question"]

#: Words of an order's text that give its modality group when no modality is sent.
MODALITY_WORDS: dict[str, str] = {
    "CT": "CT", "CAT": "CT", "MR": "MR", "MRI": "MR", "XR": "XR", "XRAY": "XR", "CR": "XR",
    "DX": "XR", "RADIOGRAPH": "XR", "RADIOGRAPHY": "XR", "US": "US", "ULTRASOUND": "US",
    "SONOGRAPHY": "US", "MG": "MG", "MAMMO": "MG", "MAMMOGRAM": "MG", "MAMMOGRAPHY": "MG",
    "PET": "PT", "PT": "PT", "NM": "NM", "NUCLEAR": "NM", "SCINTIGRAPHY": "NM", "SPECT": "NM",
    "CTA": "CT", "MRA": "MR", "CXR": "XR", "KUB": "XR", "DOPPLER": "US", "ECHO": "US",
    "XA": "XA", "RF": "XA", "FLUORO": "XA", "FLUOROSCOPY": "XA", "ANGIOGRAPHY": "XA",
}  # fmt: skip
_CLASSES = sorted(set(MODALITY_GROUPS.values()))
_SEXES = {"M", "F", "O", "U", "MALE", "FEMALE", "OTHER", "UNKNOWN"}
_MAX_WINDOW = 3650


class Channel(StrEnum):
    """Where a check came from (the ``channel`` column of the check log)."""

    CLI = "cli"
    HTTP = "http"
    CDS_HOOKS = "cds-hooks"
    LIBRARY = "library"


class Outcome(StrEnum):
    """What the scheduler decided after a check (the ``outcome`` column)."""

    WITHDRAWN = "withdrawn"
    ORDERED_ANYWAY = "ordered-anyway"


@dataclass(frozen=True, slots=True)
class Question:
    """A validated pre-order question. Build it with :func:`parse_question`."""

    name: str
    birth_date: date
    sex: str
    family: str
    window_days: int
    order_date: date
    patient_id: str = ""
    issuer: str = ""
    institution: str = ""
    laterality: str = ""  # L, R, B; U: the region has no sides; "": not known
    basis: str = ""  # how the family was found, in words
    lookup: bool = True  # false: no body region or part, nothing to look for
    certain: bool = True  # false: a fallback family (no curated family or DICOM region)

    @property
    def modality(self) -> str:
        """The family's modality group (``CT`` of ``CT HEAD``)."""
        return self.family.split()[0]


def parse_question(mapping: ProcedureRules, *, name: str | None, birth_date: str | date | None,
                   sex: str | None, procedure: str = "", modality: str = "",
                   body_part: str = "", description: str = "", code: str = "",
                   order_date: str | date | None = None, within_days: int | str | None = None,
                   patient_id: str = "", issuer: str = "", institution: str = "",
                   laterality: str = "") -> Question:
    """Validate a question and resolve its procedure family, side and look-back window.

    Messages name the field and the expected form but never echo a name, ID or birth date.
    ``laterality`` is ``L``, ``R``, ``B`` (or LEFT, RIGHT, BILATERAL, or a SNOMED CT
    laterality code); when empty, the side is read from the description and body part.

    Raises:
        UsageError: every problem found, listed together.

    """
    problems = demographic_problems(name=name, birth_date=birth_date, sex=sex,
                                    patient_id=patient_id, issuer=issuer)
    born = _date("birth_date", birth_date, [], echo=False)
    sex_text = (sex or "").strip().upper()
    when = _date("order_date", order_date, problems) if order_date else date.today()
    found = _family(mapping, procedure, modality, body_part, description, code, problems)
    side = _side(found, laterality, description, body_part, problems)
    window = _window(mapping, found.family if found else "", within_days, problems)
    if problems:
        raise UsageError("; ".join(problems))
    assert born is not None and when is not None and found and window
    return Question(name or "", born, sex_text[:1], found.family, window, when,
                    patient_id.strip(), issuer.strip(), institution.strip(), side,
                    basis(mapping, found), found.rule != "none", found.known)


def demographic_problems(*, name: str | None, birth_date: str | date | None,
                         sex: str | None, patient_id: str = "", issuer: str = "") -> list[str]:
    """What is missing or malformed in a patient's demographics (never echoing a value)."""
    problems: list[str] = []
    if not normalise_name(name).family:
        problems.append("name is required (FAMILY^GIVEN^MIDDLE, or words with the family "
                        "name first)")
    born = _date("birth_date", birth_date, problems, echo=False)
    if born and not date(1900, 1, 1) <= born <= date.today():
        problems.append("birth_date must lie between 1900-01-01 and today")
    if (sex or "").strip().upper() not in _SEXES:
        problems.append("sex is required: M, F, O or U")
    if bool(patient_id) != bool(issuer):
        problems.append("patient_id and issuer go together (an ID means nothing without "
                        "its issuer); give both or neither")
    return problems


def _date(field: str, value: str | date | None, problems: list[str], *,
          echo: bool = True) -> date | None:
    if isinstance(value, date):
        return value
    text = (value or "").strip()
    try:
        return calendar_date(text)
    except ValueError as exc:
        shown = f" (got {text[:20]!r})" if echo else ""
        problems.append(f"{field} {exc}{shown}" if text
                        else f"{field} is required (YYYY-MM-DD)")
        return None


def _family(mapping: ProcedureRules, procedure: str, modality: str, body_part: str,
            description: str, code: str, problems: list[str]) -> Family | None:
    if procedure:
        return _named(mapping, procedure, problems)
    value = code.rsplit(":", 1)[-1].strip().upper()
    coded = next((r for r in mapping.rules if value and value in r.codes), None)
    if coded is not None:
        return curated_family(mapping, coded, "code")
    group = modality_group(modality) if modality.strip() else _group_of(description)
    if group not in _CLASSES:
        problems.append(f"modality {modality[:16]!r} is not an imaging modality; use one of "
                        + ", ".join(sorted(MODALITY_GROUPS)) if modality.strip() else
                        "procedure is required: a family (e.g. 'CT HEAD', 'XR HAND'), or a "
                        "modality with a body part or description")
        return None
    return classify_procedure(mapping, group, body_part, description, code)


def _named(mapping: ProcedureRules, procedure: str, problems: list[str]) -> Family | None:
    """A procedure given by name: a curated family, or a class and a body region or part."""
    name = " ".join(procedure.upper().split())
    rule = next((r for r in mapping.rules if r.family == name), None)
    if rule is not None:
        return curated_family(mapping, rule, "name")
    first, _, rest = name.partition(" ")
    group = first if first in _CLASSES else MODALITY_WORDS.get(first, "")
    if not group or not rest:
        problems.append(f"unknown procedure {procedure[:40]!r}; name a modality class ("
                        + ", ".join(_CLASSES) + ") and a body part, e.g. 'XR HAND', or one "
                        "of: " + ", ".join(r.family for r in mapping.rules))
        return None
    found = classify_procedure(mapping, group, description=rest)
    return found if found.known else classify_procedure(mapping, group, body_part=rest)


def _group_of(description: str) -> str:
    """The modality class an order's text names (``MRI ...`` -> ``MR``), or ``""``."""
    text = description.upper().replace("X-RAY", "XRAY")
    return next((MODALITY_WORDS[w] for w in re.findall(r"[A-Z]+", text)
                 if w in MODALITY_WORDS), "")


def _side(found: Family | None, given: str, description: str, body_part: str,
          problems: list[str]) -> str:
    side = order_side(given or "")
    if side is None:
        problems.append(f"laterality must be L, R or B (LEFT, RIGHT, BILATERAL) "
                        f"(got {given[:12]!r})")
        return ""
    if found is None:
        return side
    if found.laterality == "U":
        return "U"  # the region has no sides
    return side or found.laterality or laterality([description, body_part])


def basis(mapping: ProcedureRules, found: Family) -> str:
    """How an order's family was found, in words (for the answer)."""
    group = found.family.split()[0]
    region = mapping.region(found.region) if found.region else None
    if found.rule == "none":
        return (f"no body part or body region in this {group} order: nothing to compare "
                "with; give the body part or a procedure code")
    if not found.known:
        return (f"{found.family}: no procedure family or DICOM body region matches; modality "
                f"class {group} and the body part as written, compared with studies whose "
                "body part reads the same")
    if found.curated:
        return f"{found.family}: curated procedure family (found by {found.rule})"
    assert region is not None
    return (f"{found.family}: no curated family; modality class {group} and the DICOM body "
            f"region {region.term} ({region.meaning}, SNOMED CT {region.sct}), found by "
            f"{found.rule}")


def _window(mapping: ProcedureRules, family: str, within_days: int | str | None,
            problems: list[str]) -> int:
    if within_days not in (None, ""):
        text = str(within_days).strip()
        try:
            return whole_number(text, 1, _MAX_WINDOW)
        except ValueError:
            problems.append(f"within_days must be a whole number of days from 1 to "
                            f"{_MAX_WINDOW}, in digits 0-9 (got {text[:12]!r})")
            return 0
    days = mapping.window(family) if family else None
    if family and days is None:
        problems.append(f"no look-back window is defined for {family} or its modality "
                        "class; pass within_days")
        return 0
    return days or 0
