"""The pre-order check: whether a patient already has a recent study of the kind ordered.

:meth:`Checker.check` is the one way to ask, behind the CLI (``dedup check``), the HTTP API
and the CDS Hooks service. Answers come from the published snapshot through an in-memory index
(:mod:`dedup.check.prior_index`), never from the live archive, so checks keep working while the
nightly batch writes: a service holds the whole index and keeps it current
(:mod:`dedup.check.holder`); a one-off check reads only the records born on the question's
birth date. Every answer is written to the check log (:mod:`dedup.check.log`) with the patient
pseudonymised, when the checker has one.
"""

from __future__ import annotations

import getpass
import os
import threading
import time
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from dedup.check.holder import IndexHolder
from dedup.check.link import Person, sex_code
from dedup.check.log import CheckLog
from dedup.check.outcome import Decision, Recorded
from dedup.check.prior_index import SIDE_CODES, SIDE_LETTERS, PriorIndex, Query, day_number
from dedup.check.question import Channel, Outcome, Question, parse_question
from dedup.check.result import CheckResult, Prior, answer, prior_answer, recommendation
from dedup.config import Settings
from dedup.config.viewer import checked_template, viewer_link
from dedup.errors import UsageError
from dedup.match.linkage import normalise_name
from dedup.match.procedures import load_mapping

__all__ = ["Checker"]


class Checker:
    """Answers pre-order questions from an archive's published snapshot and logs them.

    Args:
        archive_path: the archive; its published snapshot is read, never the file itself.
        settings: linkage threshold and prior, mapping tables, reload interval.
        check_log: where checks and outcomes are recorded (``None``: not recorded).
        one_off: answer each question from an index of only the records born on its birth
            date, read when it is asked (a single check, e.g. ``dedup check``), instead of
            holding the whole index in memory and current (a service).
        viewer_url: link template of a prior in the hospital's viewer, with ``{study_uid}``
            (:mod:`dedup.config.viewer`); empty: priors carry no viewer link.

    Raises:
        UsageError: ``viewer_url`` is not a valid template.

    """

    def __init__(self, archive_path: str | Path, settings: Settings | None = None,
                 check_log: CheckLog | None = None, *, one_off: bool = False,
                 viewer_url: str = "") -> None:
        self.settings = settings or Settings(archive=str(archive_path))
        self.mapping = load_mapping(self.settings.procedure_families,
                                    self.settings.lookback_windows)
        self.holder = IndexHolder(archive_path, self.settings.check_reload_seconds)
        self.log = check_log
        self.one_off = one_off
        self.viewer_url = checked_template(viewer_url)

    def check(self, question: Question, *, client: str | None = None,
              channel: Channel = Channel.LIBRARY) -> CheckResult:
        """Answer ``question`` and record it in the check log.

        Args:
            question: what :meth:`parse` (or :func:`parse_question`) made of the request.
            client: who asked, for the log; ``None``: the local user (``user:<login>``).
            channel: where the question came from.

        Raises:
            ArchiveError: nothing has been published yet.

        """
        started = time.perf_counter()
        index = (self.holder.born_on(question.birth_date) if self.one_off
                 else self.holder.current())
        result = _answer(index, question, self.settings, self.viewer_url)
        if self.log is not None:
            self.log.record_check(question, result,
                                  client=_local_user() if client is None else client,
                                  channel=channel,
                                  latency_ms=(time.perf_counter() - started) * 1000)
        return result

    def record_outcome(self, check_id: str, outcome: Outcome | str, reason: str | None, *,
                       client: str, channel: Channel, reported_at: datetime | None = None,
                       any_check: bool = False) -> Recorded:
        """Record what was decided after an earlier check (see :meth:`record_outcomes`).

        Raises:
            UsageError: no check log, an unknown check ID or outcome, or a check another
                caller asked.

        """
        return self.record_outcomes([Decision(check_id, outcome, reason, reported_at)],
                                    client=client, channel=channel, any_check=any_check)[0]

    def record_outcomes(self, decisions: list[Decision], *, client: str, channel: Channel,
                        any_check: bool = False) -> list[Recorded]:
        """Record several decisions at once: all of them, or none (one bad, none written).

        Args:
            decisions: what was decided, in order.
            client: the caller's token name; a check's outcome belongs to the caller that
                asked it.
            channel: where the decisions came from.
            any_check: the caller may record outcomes of checks other callers asked.

        Returns:
            What became of each: the server's time, whether it was written or repeated the
            latest outcome, and the different outcome it replaced (a conflict).

        Raises:
            UsageError: no check log, an unknown check ID or outcome, a check another caller
                asked (:class:`~dedup.check.outcome.NotYourCheck`), or one check decided
                twice differently.

        """
        if self.log is None:
            raise UsageError("this checker has no check log; outcomes cannot be recorded")
        try:
            checked = [replace(d, outcome=Outcome(d.outcome)) for d in decisions]
        except ValueError:
            raise UsageError("outcome must be one of: " + ", ".join(Outcome)) from None
        return self.log.record_outcomes(checked, client=client, channel=channel,
                                        any_check=any_check)

    def parse(self, **fields: Any) -> Question:
        """:func:`parse_question` with this checker's mapping."""
        return parse_question(self.mapping, **fields)


def _answer(index: PriorIndex, question: Question, settings: Settings, viewer: str = ""
            ) -> CheckResult:
    """Look up the priors of ``question`` in ``index`` (pure: no I/O, no logging).

    Returns:
        The result; ``check_id`` is new, ``latency_ms`` is the lookup time.

    """
    started = time.perf_counter()
    query = Query(Person(normalise_name(question.name), sex_code(question.sex),
                         question.issuer), day_number(question.birth_date), question.patient_id)
    matches = index.people(query, prior=settings.link_prior, threshold=settings.link_threshold)
    order_day = day_number(question.order_date)
    rows = index.priors(matches, question.family, order_day, question.window_days,
                        SIDE_CODES.get(question.laterality, 0)) if question.lookup else []
    priors = tuple(_prior(row, question, order_day, viewer) for row in rows)
    return CheckResult(
        check_id=_new_id(), asked_at=datetime.now(UTC).replace(tzinfo=None),
        family=question.family, window_days=question.window_days,
        order_date=question.order_date, patients_matched=len(matches), priors=priors,
        recommendation=recommendation(question, priors, len(matches)),
        generation=index.generation,
        latency_ms=round((time.perf_counter() - started) * 1000, 3),
        laterality=question.laterality, answer=answer(question, priors),
        basis=question.basis)


def _prior(row: dict[str, Any], question: Question, order_day: int, viewer: str) -> Prior:
    side = SIDE_LETTERS.get(row["side"], "")
    return Prior(study_uid=row["study_uid"],
                 study_date=date.fromordinal(date(1970, 1, 1).toordinal() + row["study_day"]),
                 days_ago=order_day - row["study_day"], institution=row["institution"],
                 family=question.family, description=row["description"],
                 modalities=row["modalities"], location=row["location"],
                 n_instances=int(row["n_instances"]),
                 link_probability=round(row["probability"], 6), link_reasons=row["reasons"],
                 laterality=side, answer=prior_answer(question, side),
                 viewer_url=viewer_link(viewer, row["study_uid"]))


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


def _local_user() -> str:
    try:
        return f"user:{getpass.getuser()}"
    except (KeyError, OSError):
        return "user:unknown"
