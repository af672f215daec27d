"""The answer to a pre-order question: the priors found and a one-line recommendation.

A prior is a study of the same procedure family in the look-back window up to the order date,
of a patient record the linkage model takes to be this person (precision over recall: only
linked records count), with its date, days ago, institution, study UID, where the images are,
its side, the link's score and reasons, and its link in the hospital's viewer (when a
template is configured). Each prior is a ``yes`` (the same procedure, on
the same side or a side it covers) or a ``possible`` (the side is not known on the order or on
the study, a bilateral order meets a one-sided study, or the family is only the modality and
the body part as written). The answer as a whole (:func:`answer`) is ``yes``, ``possible``,
``no``, or ``unknown`` when the order names no body part to look for. ``as_dict`` gives the
stable JSON form the CLI and the HTTP API return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dedup.check.question import Question

__all__ = ["CheckResult", "Prior", "answer", "prior_answer", "recommendation"]


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
    laterality: str = ""  # L, R, B; U: the region has no sides; "": not known
    answer: str = "yes"  # or "possible"
    viewer_url: str = ""  # the study in the hospital's viewer ([service] viewer_url); "": none

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values."""
        out = {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]
        out["study_date"] = self.study_date.isoformat()
        out["link_reasons"] = list(self.link_reasons)
        return out


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The answer to a :class:`~dedup.check.question.Question` (``as_dict`` is the JSON form)."""

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
    laterality: str = ""  # the order's side, as Question.laterality
    answer: str = ""  # yes, possible, no or unknown (see answer())
    basis: str = ""  # how the order's family was found, in words

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values (dates as ISO text)."""
        out = {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]
        out["asked_at"] = self.asked_at.isoformat(timespec="milliseconds") + "Z"
        out["order_date"] = self.order_date.isoformat()
        out["priors"] = [p.as_dict() for p in self.priors]
        return out


def prior_answer(question: Question, side: str) -> str:
    """``yes`` or ``possible``: whether a prior on ``side`` surely covers the order."""
    order = question.laterality
    if not question.certain:
        return "possible"
    if "U" in (order, side) or side == "B" or (order and side == order):
        return "yes"
    return "possible"


def answer(question: Question, priors: tuple[Prior, ...]) -> str:
    """The answer as a whole: ``unknown``, ``yes``, ``possible`` or ``no``."""
    if not question.lookup:
        return "unknown"
    if any(p.answer == "yes" for p in priors):
        return "yes"
    return "possible" if priors else "no"


def recommendation(question: Question, priors: tuple[Prior, ...], matched: int) -> str:
    """One line for the scheduler; never names the patient."""
    family, window = _what(question.family, question.laterality), question.window_days
    if not question.lookup:
        return (f"This {question.modality} order names no body part, so no prior could be "
                "looked for; give the body part or a procedure code.")
    if not priors:
        if not matched:
            return (f"No matching patient in the archive, so no prior {family} was found; "
                    "proceed if indicated.")
        return f"No {family} in the last {window} days in the archive; proceed if indicated."
    sure = tuple(p for p in priors if p.answer == "yes")
    if not sure:
        return _possible(question, priors[0], len(priors))
    latest = sure[0]
    where = f" at {latest.institution}" if latest.institution else ""
    if len(sure) == 1:
        return (f"Possible repeat: {_a(family)} {family} was done {_ago(latest.days_ago)}{where} "
                f"(look-back window {window} days); review it before ordering.")
    return (f"Possible repeat: {len(sure)} {family} studies in the last {window} days, the "
            f"latest {_ago(latest.days_ago)}{where}; review them before ordering.")


def _possible(question: Question, latest: Prior, count: int) -> str:
    where = f" at {latest.institution}" if latest.institution else ""
    what = _what(latest.family, latest.laterality or "?")
    if not question.certain:
        why = "it matches by modality and body part as written only"
    elif not question.laterality:
        why = "the order does not say which side"
    elif not latest.laterality:
        why = "the side of that study is not recorded"
    else:
        why = f"it covers the {_SIDES[latest.laterality]} side only"
    more = f" ({count - 1} more like it)" if count > 1 else ""
    return (f"Possible prior: {_a(what)} {what} was done {_ago(latest.days_ago)}{where}{more} "
            f"(look-back window {question.window_days} days), but {why}; check it before "
            "ordering.")


_SIDES = {"L": "left", "R": "right", "B": "bilateral", "?": "side not recorded"}


def _a(family: str) -> str:
    """The article before a family read letter by letter (a CT, an MR, an XR)."""
    return "an" if family[:1] in "AEFHILMNORSX" else "a"


def _what(family: str, side: str) -> str:
    return f"{family} ({_SIDES[side]})" if side in _SIDES else family


def _ago(days: int) -> str:
    if days == 0:
        return "today"
    if days < 0:
        return f"{-days} day{'s' if days < -1 else ''} after the order date"
    return f"{days} day{'s' if days > 1 else ''} ago"
