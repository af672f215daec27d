"""The answer to a pre-order question: the priors found and a one-line recommendation.

A prior is a study of the same procedure family inside the family's look-back window, of a
patient record the linkage model takes to be this person (precision over recall: only linked
records count), with its date, days ago, institution, study UID, where the images are and the
link's score and reasons. ``as_dict`` gives the stable JSON form the CLI and the HTTP API
return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dedup.check.question import Question

__all__ = ["CheckResult", "Prior", "recommendation"]


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

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values (dates as ISO text)."""
        out = {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]
        out["asked_at"] = self.asked_at.isoformat(timespec="milliseconds") + "Z"
        out["order_date"] = self.order_date.isoformat()
        out["priors"] = [p.as_dict() for p in self.priors]
        return out


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
