"""Recording what was decided after a check: who may, in which order, and what conflicts.

Pure rules (no I/O) the check log applies inside one write transaction:

- an outcome belongs to the caller that asked the check (the first word of the check's
  ``client``: the token name; CDS Hooks adds the EHR user after a space, and token names hold
  no spaces), or to a caller explicitly allowed to record anyone's (``outcome_recorders``);
- the server's clock decides the order: each outcome is stored at the time it reaches the
  log, strictly after the check's latest one; the time the caller reports is kept as
  reported (``reported_at``) and never used to order;
- an outcome that repeats the latest one (same outcome and reason) writes nothing; one that
  differs from it becomes the latest, and one with another outcome is reported as a conflict
  with the outcome it replaces, never dropped silently;
- one request naming a check twice with different decisions is refused whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dedup.check.question import Outcome
from dedup.errors import UsageError

__all__ = ["ContradictoryDecisions", "Decision", "Latest", "NotYourCheck", "Recorded",
           "UnknownCheck", "owner_of", "plan_outcomes"]

#: Longest reason stored (characters).
MAX_REASON = 500
_TICK = timedelta(microseconds=1)


class _ChecksError(UsageError):
    """An error about some of the checks a request names (their IDs in ``check_ids``)."""

    def __init__(self, message: str, check_ids: list[str]) -> None:
        super().__init__(message)
        self.check_ids = tuple(check_ids)


class UnknownCheck(_ChecksError):
    """An outcome names a check ID the log has never seen."""


class NotYourCheck(_ChecksError):
    """An outcome names a check another caller asked (and this caller may not record it)."""


class ContradictoryDecisions(_ChecksError):
    """One request decides the same check twice, differently."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What was decided after one check, why, and when the caller says it was (or ``None``)."""

    check_id: str
    outcome: Outcome | str
    reason: str | None = None
    reported_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Latest:
    """A logged check: who asked it, and its latest outcome (``None`` while none)."""

    client: str
    outcome: Outcome | None = None
    reason: str | None = None
    decided_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    """What became of one decision.

    Attributes:
        check_id: the check.
        outcome: the decision's outcome.
        decided_at: when the server stored it (UTC, naive); for a repeat, the stored time of
            the outcome it repeats.
        written: False when it repeated the check's latest outcome (nothing written).
        replaced: the different outcome it replaced as the check's latest (a conflict).
        replaced_at: when that replaced outcome was stored.

    """

    check_id: str
    outcome: Outcome
    decided_at: datetime
    written: bool
    replaced: Outcome | None = None
    replaced_at: datetime | None = None


def owner_of(client: str) -> str:
    """The caller a check belongs to: the first word of its ``client`` column."""
    return client.partition(" ")[0]


def plan_outcomes(decisions: list[Decision], checks: dict[str, Latest], *, caller: str,
                  any_check: bool, now: datetime) -> list[Recorded]:
    """Decide what to write for ``decisions``: all of them, or an error and nothing.

    Args:
        decisions: the request's decisions, in order (outcomes already :class:`Outcome`).
        checks: every logged check the decisions name, with its latest outcome.
        caller: the token name recording them.
        any_check: the caller may record outcomes of checks other callers asked.
        now: the server's clock (UTC, naive).

    Returns:
        One :class:`Recorded` per decision, in order.

    Raises:
        UnknownCheck: a decision names a check that was never logged.
        NotYourCheck: a decision names a check another caller asked.
        ContradictoryDecisions: the request decides one check twice, differently.

    """
    _refuse(decisions, checks, caller, any_check)
    first: dict[str, Recorded] = {}
    out = []
    for decision in decisions:
        done = first.get(decision.check_id)
        if done is None:
            done = first[decision.check_id] = _plan_one(decision, checks[decision.check_id],
                                                        now)
            out.append(done)
        else:
            out.append(Recorded(done.check_id, done.outcome, done.decided_at, written=False))
    return out


def reason_of(decision: Decision) -> str | None:
    """The reason as stored: at most :data:`MAX_REASON` characters, ``None`` when empty."""
    return (decision.reason or "")[:MAX_REASON] or None


def _refuse(decisions: list[Decision], checks: dict[str, Latest], caller: str,
            any_check: bool) -> None:
    unknown = [d.check_id for d in decisions if d.check_id not in checks]
    if unknown:
        raise UnknownCheck(f"unknown check_id {unknown[0][:64]!r}: record outcomes only for "
                           "checks this service answered", unknown)
    foreign = [d.check_id for d in decisions
               if not any_check and owner_of(checks[d.check_id].client) != caller]
    if foreign:
        raise NotYourCheck("another caller asked this check; only that caller, or a token "
                           "listed in [service] outcome_recorders, records its outcome",
                           foreign)
    seen: dict[str, tuple[str, str | None]] = {}
    clash = [d.check_id for d in decisions
             if seen.setdefault(d.check_id, (str(d.outcome), reason_of(d)))
             != (str(d.outcome), reason_of(d))]
    if clash:
        raise ContradictoryDecisions("the request decides the same check twice, differently; "
                                     "nothing was recorded: send one decision per check",
                                     clash)


def _plan_one(decision: Decision, latest: Latest, now: datetime) -> Recorded:
    outcome, reason = Outcome(decision.outcome), reason_of(decision)
    if latest.outcome is not None and latest.decided_at is not None:
        if (latest.outcome, latest.reason) == (outcome, reason):
            return Recorded(decision.check_id, outcome, latest.decided_at, written=False)
        replaced = latest.outcome if latest.outcome != outcome else None
        return Recorded(decision.check_id, outcome, _after(latest.decided_at, now),
                        written=True, replaced=replaced,
                        replaced_at=latest.decided_at if replaced else None)
    return Recorded(decision.check_id, outcome, now, written=True)


def _after(previous: datetime, now: datetime) -> datetime:
    """``now``, or just after ``previous`` when the clock has not passed it (strict order)."""
    if now > previous:
        return now
    try:
        return previous + _TICK
    except OverflowError:  # stored at the very end of the calendar by an older dedup
        return now
