"""A pre-order question: who the patient is and which procedure is about to be ordered.

A question names the patient (name, birth date, sex, optionally issuer and ID) and the
procedure (a family such as ``CT HEAD``, or modality + body part + description + code,
normalised by :mod:`dedup.match.procedures`). :func:`parse_question` validates all of it at
once and resolves the family and its look-back window; its messages name the field and the
expected form but never echo a name, ID or birth date. :class:`Channel` and :class:`Outcome`
are the check log's words for where a question came from and what was decided after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from dedup.errors import UsageError
from dedup.match.linkage import normalise_name
from dedup.match.procedures import ProcedureRules, classify_procedure

__all__ = ["MODALITY_WORDS", "Channel", "Outcome", "Question", "demographic_problems",
           "parse_question"]

#: Words of an order's text that give its modality group when no modality is sent.
MODALITY_WORDS: dict[str, str] = {
    "CT": "CT", "CAT": "CT", "MR": "MR", "MRI": "MR", "XR": "XR", "XRAY": "XR", "CR": "XR",
    "DX": "XR", "RADIOGRAPH": "XR", "RADIOGRAPHY": "XR", "US": "US", "ULTRASOUND": "US",
    "SONOGRAPHY": "US", "MG": "MG", "MAMMO": "MG", "MAMMOGRAM": "MG", "MAMMOGRAPHY": "MG",
    "PET": "PT", "PT": "PT", "NM": "NM",
}  # fmt: skip
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

    @property
    def modality(self) -> str:
        """The family's modality group (``CT`` of ``CT HEAD``)."""
        return self.family.split()[0]


def parse_question(mapping: ProcedureRules, *, name: str | None, birth_date: str | date | None,
                   sex: str | None, procedure: str = "", modality: str = "",
                   body_part: str = "", description: str = "", code: str = "",
                   order_date: str | date | None = None, within_days: int | str | None = None,
                   patient_id: str = "", issuer: str = "", institution: str = "") -> Question:
    """Validate a question and resolve its procedure family and look-back window.

    Messages name the field and the expected form but never echo a name, ID or birth date.

    Raises:
        UsageError: every problem found, listed together.

    """
    problems = demographic_problems(name=name, birth_date=birth_date, sex=sex,
                                    patient_id=patient_id, issuer=issuer)
    born = _date("birth_date", birth_date, [], echo=False)
    sex_text = (sex or "").strip().upper()
    when = _date("order_date", order_date, problems) if order_date else date.today()
    family = _family(mapping, procedure, modality, body_part, description, code, problems)
    window = _window(mapping, family, within_days, problems)
    if problems:
        raise UsageError("; ".join(problems))
    assert born is not None and when is not None and family and window
    return Question(name or "", born, sex_text[:1], family, window, when,
                    patient_id.strip(), issuer.strip(), institution.strip())


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
        return date.fromisoformat(text)
    except ValueError:
        shown = f" (got {text[:20]!r})" if echo else ""
        problems.append(f"{field} must be a date YYYY-MM-DD{shown}" if text
                        else f"{field} is required (YYYY-MM-DD)")
        return None


def _family(mapping: ProcedureRules, procedure: str, modality: str, body_part: str,
            description: str, code: str, problems: list[str]) -> str:
    known = {r.family for r in mapping.rules}
    if procedure:
        family = " ".join(procedure.upper().split())
        if family not in known:
            problems.append(f"unknown procedure {procedure[:40]!r}; use one of: "
                            + ", ".join(sorted(known)))
            return ""
        return family
    value = code.rsplit(":", 1)[-1].strip().upper()
    by_code = next((r.family for r in mapping.rules if value and value in r.codes), "")
    if by_code:
        return by_code
    group = modality.strip().upper() or next(
        (MODALITY_WORDS[w] for w in re.findall(r"[A-Z]+", description.upper().replace(
            "X-RAY", "XRAY")) if w in MODALITY_WORDS), "")
    if not group:
        problems.append("procedure is required: a family (e.g. 'CT HEAD'), or a modality with "
                        "a body part or description")
        return ""
    found = classify_procedure(mapping.rules, group, body_part, description, code)
    if not found.known:
        problems.append(f"unknown procedure: {group} {body_part} {description}".strip()[:80]
                        + " matches no procedure family; pass a family instead (one of: "
                        + ", ".join(sorted(known)) + ")")
        return ""
    return found.family


def _window(mapping: ProcedureRules, family: str, within_days: int | str | None,
            problems: list[str]) -> int:
    if within_days not in (None, ""):
        text = str(within_days).strip()
        if not text.isdigit() or not 1 <= int(text) <= _MAX_WINDOW:
            problems.append(f"within_days must be a whole number of days from 1 to "
                            f"{_MAX_WINDOW} (got {text[:12]!r})")
            return 0
        return int(text)
    if family and family not in mapping.windows:
        problems.append(f"no look-back window is defined for {family}; pass within_days")
        return 0
    return mapping.windows.get(family, 0)
