"""The pre-order check: whether a patient already has a recent study of the kind ordered.

One library function behind the CLI (``dedup check``), the HTTP API and the CDS Hooks service.
A question names the patient (name, birth date, sex, optionally issuer and ID) and the
procedure about to be ordered (a family such as ``CT HEAD``, or modality + body part +
description + code, normalised by :mod:`dedup.match.procedures`). The answer lists the priors:
studies of the same procedure family inside the family's look-back window, of patient records
the linkage model takes to be this person (precision over recall: only linked records count),
each with date, days ago, institution, study UID, where the images are and the link's score
and reasons, plus a one-line recommendation.

Answers come from the published snapshot through an in-memory index
(:mod:`dedup.check.prior_index`), never from the live archive, so checks keep working while the
nightly batch writes. Every answer of a :class:`Checker` is written to the check log
(:mod:`dedup.check.log`) with the patient pseudonymised.
"""

from __future__ import annotations

import getpass
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dedup.archive.publish import PublishedReader
from dedup.check.holder import IndexHolder
from dedup.check.link import Person, sex_code
from dedup.check.prior_index import PriorIndex, Query, build_index, day_number
from dedup.config import Settings
from dedup.errors import UsageError
from dedup.match.linkage import normalise_name
from dedup.match.procedures import ProcedureRules, classify_procedure, load_mapping

if TYPE_CHECKING:
    from dedup.check.log import CheckLog

__all__ = ["Channel", "CheckResult", "Checker", "Outcome", "Prior", "Question", "answer",
           "check", "demographic_problems", "parse_question", "recommendation"]

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


@dataclass(frozen=True, slots=True)
class Prior:
    """One earlier study of the same person and procedure family inside the window."""

    study_uid: str
    study_date: date
    days_ago: int
    institution: str | None
    family: str
    description: str | None
    modalities: str | None
    location: str | None
    n_instances: int
    link_probability: float
    link_reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values."""
        out = {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]
        out["study_date"] = self.study_date.isoformat()
        out["link_reasons"] = list(self.link_reasons)
        return out


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The answer to a :class:`Question` (``as_dict`` is the stable JSON form)."""

    check_id: str
    asked_at: datetime
    family: str
    window_days: int
    order_date: date
    patients_matched: int
    priors: tuple[Prior, ...]
    recommendation: str
    generation: str
    latency_ms: float

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values (dates as ISO text)."""
        out = {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]
        out["asked_at"] = self.asked_at.isoformat(timespec="milliseconds") + "Z"
        out["order_date"] = self.order_date.isoformat()
        out["priors"] = [p.as_dict() for p in self.priors]
        return out


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


def answer(index: PriorIndex, question: Question, settings: Settings) -> CheckResult:
    """Look up the priors of ``question`` in ``index`` (pure: no I/O, no logging).

    Returns:
        The result; ``check_id`` is new, ``latency_ms`` is the lookup time.

    """
    started = time.perf_counter()
    query = Query(Person(normalise_name(question.name), sex_code(question.sex),
                         question.issuer), day_number(question.birth_date), question.patient_id)
    matches = index.people(query, prior=settings.link_prior, threshold=settings.link_threshold)
    order_day = day_number(question.order_date)
    rows = index.priors(matches, question.family, order_day, question.window_days)
    priors = tuple(_prior(row, question.family, order_day) for row in rows)
    return CheckResult(
        check_id=_new_id(), asked_at=datetime.now(UTC).replace(tzinfo=None),
        family=question.family, window_days=question.window_days,
        order_date=question.order_date, patients_matched=len(matches), priors=priors,
        recommendation=recommendation(question, priors, len(matches)),
        generation=index.generation,
        latency_ms=round((time.perf_counter() - started) * 1000, 3))


_random = bytearray()
_random_lock = threading.Lock()


def _new_id() -> str:
    """A random (version 4) UUID.

    The kernel's randomness is fetched 4 KiB at a time: one ``os.urandom`` call per check
    costs tens of microseconds on some virtual machines.
    """
    with _random_lock:
        if len(_random) < 16:
            _random.extend(os.urandom(4096))
        raw = bytes(_random[:16])
        del _random[:16]
    return str(uuid.UUID(bytes=raw, version=4))


def _prior(row: dict[str, Any], family: str, order_day: int) -> Prior:
    return Prior(study_uid=row["study_uid"],
                 study_date=date.fromordinal(date(1970, 1, 1).toordinal() + row["study_day"]),
                 days_ago=order_day - row["study_day"], institution=row["institution"],
                 family=family, description=row["description"], modalities=row["modalities"],
                 location=row["location"], n_instances=int(row["n_instances"]),
                 link_probability=round(row["probability"], 6), link_reasons=row["reasons"])


def recommendation(question: Question, priors: tuple[Prior, ...], matched: int) -> str:
    """One line for the scheduler; never names the patient."""
    family, window = question.family, question.window_days
    if not priors:
        if not matched:
            return (f"No matching patient in the archive, so no prior {family} was found; "
                    "proceed if indicated.")
        return f"No {family} in the last {window} days in the archive; proceed if indicated."
    latest = priors[0]
    where = f" at {latest.institution}" if latest.institution else ""
    if len(priors) == 1:
        return (f"Possible repeat: a {family} was done {_ago(latest.days_ago)}{where} "
                f"(look-back window {window} days); review it before ordering.")
    return (f"Possible repeat: {len(priors)} {family} studies in the last {window} days, the "
            f"latest {_ago(latest.days_ago)}{where}; review them before ordering.")


def _ago(days: int) -> str:
    if days == 0:
        return "today"
    if days < 0:
        return f"{-days} day{'s' if days < -1 else ''} after the order date"
    return f"{days} day{'s' if days > 1 else ''} ago"


class Checker:
    """A long-lived checker over an archive's published snapshot (the service uses one).

    Args:
        archive_path: the archive; its published snapshot is read, never the file itself.
        settings: linkage threshold and prior, mapping tables, reload interval.
        check_log: where checks and outcomes are recorded (``None``: not recorded).

    """

    def __init__(self, archive_path: str | Path, settings: Settings | None = None,
                 check_log: CheckLog | None = None) -> None:
        self.settings = settings or Settings(archive=str(archive_path))
        self.mapping = load_mapping(self.settings.procedure_families,
                                    self.settings.lookback_windows)
        self.holder = IndexHolder(archive_path, self.settings.check_reload_seconds)
        self.log = check_log

    def check(self, question: Question, *, client: str, channel: Channel) -> CheckResult:
        """Answer ``question`` from the current index and record it in the check log.

        Raises:
            ArchiveError: nothing has been published yet.

        """
        started = time.perf_counter()
        result = answer(self.holder.current(), question, self.settings)
        if self.log is not None:
            self.log.record_check(question, result, client=client, channel=channel,
                                  latency_ms=(time.perf_counter() - started) * 1000)
        return result

    def record_outcome(self, check_id: str, outcome: Outcome | str, reason: str | None, *,
                       client: str, channel: Channel, decided_at: datetime | None = None
                       ) -> datetime:
        """Record what the scheduler decided for an earlier check.

        Raises:
            UsageError: no check log, an unknown check ID or outcome.

        """
        if self.log is None:
            raise UsageError("this checker has no check log; outcomes cannot be recorded")
        return self.log.record_outcome(check_id, Outcome(outcome), reason, client=client,
                                       channel=channel, decided_at=decided_at)

    def parse(self, **fields: Any) -> Question:
        """:func:`parse_question` with this checker's mapping."""
        return parse_question(self.mapping, **fields)


def check(question: Question, *, archive: str | Path, settings: Settings | None = None,
          check_log: CheckLog | None = None, client: str = "",
          channel: Channel = Channel.LIBRARY
          ) -> CheckResult:
    """Answer one question from the published snapshot (a one-off, e.g. ``dedup check``).

    Only the records born on the question's birth date are read, so a single check does not
    load the whole archive; a service keeps a :class:`Checker` instead.

    Raises:
        ArchiveError: nothing has been published yet.

    """
    settings = settings or Settings(archive=str(archive))
    started = time.perf_counter()
    reader = PublishedReader(archive)
    try:
        index = build_index(reader.archive(), question.birth_date)
    finally:
        reader.close()
    result = answer(index, question, settings)
    if check_log is not None:
        check_log.record_check(question, result, client=client or _user(), channel=channel,
                               latency_ms=(time.perf_counter() - started) * 1000)
    return result


def _user() -> str:
    try:
        return f"user:{getpass.getuser()}"
    except (KeyError, OSError):
        return "user:unknown"
