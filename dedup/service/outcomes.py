"""Outcomes from either API (``POST /v1/outcomes``, CDS Hooks feedback): shared mapping.

Who may record an outcome of a check another caller asked (a token named in
``[service] outcome_recorders``), and how a recorded outcome's times and conflict are said in
a reply. The rules themselves live in :mod:`dedup.check.outcome`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request

from dedup.check.outcome import Recorded

__all__ = ["conflict", "may_record_any", "utc_text"]


def may_record_any(request: Request) -> bool:
    """Whether the caller may record outcomes of checks other callers asked."""
    return bool(request.state.client in request.app.state.outcome_recorders)


def utc_text(moment: datetime) -> str:
    """A stored (naive UTC) time as ISO text with a ``Z``."""
    return moment.isoformat(timespec="microseconds") + "Z"


def conflict(recorded: Recorded, words: dict[str, str] | None = None) -> dict[str, Any] | None:
    """The outcome ``recorded`` contradicted and replaced as the latest, or ``None``.

    Args:
        recorded: what became of one decision.
        words: how the reply names outcomes (default: the log's words).

    """
    if recorded.replaced is None or recorded.replaced_at is None:
        return None
    previous = str(recorded.replaced)
    return {"previous": (words or {}).get(previous, previous),
            "previous_decided_at": utc_text(recorded.replaced_at)}
