"""The pre-order check: "does this patient already have a recent scan of this kind?"."""

from dedup.check.answer import (
    Channel,
    Checker,
    CheckResult,
    Outcome,
    Prior,
    Question,
    answer,
    check,
    parse_question,
)

__all__ = [
    "Channel",
    "CheckResult",
    "Checker",
    "Outcome",
    "Prior",
    "Question",
    "answer",
    "check",
    "parse_question",
]
