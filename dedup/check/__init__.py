"""The pre-order check: "does this patient already have a recent scan of this kind?".

Ask through a :class:`Checker` (``Checker.check`` is the one entry point): parse the request
into a :class:`Question`, get a :class:`CheckResult` listing the :class:`Prior` studies. The
modules, in the order a question meets them: ``question`` (parsing), ``checker`` (the entry
point), ``holder`` and ``prior_index`` (the in-memory index of the published snapshot),
``link`` (is a record this person?), ``result`` (the answer), ``log``, ``outcome`` and
``pseudonym`` (the service's record of checks and of what was decided after them).
"""

from dedup.check.checker import Checker
from dedup.check.log import CheckLog, fold_check_log
from dedup.check.outcome import Decision, NotYourCheck, Recorded, UnknownCheck
from dedup.check.question import Channel, Outcome, Question, demographic_problems, parse_question
from dedup.check.result import CheckResult, Prior

__all__ = [
    "Channel",
    "CheckLog",
    "CheckResult",
    "Checker",
    "Decision",
    "NotYourCheck",
    "Outcome",
    "Prior",
    "Question",
    "Recorded",
    "UnknownCheck",
    "demographic_problems",
    "fold_check_log",
    "parse_question",
]
