"""The check log: every pre-order check and every recorded outcome, owned by the service.

The archive belongs to the nightly batch (one writer per DuckDB file), so online writes go to
a store the service owns: an SQLite file in WAL mode, ``<archive>.checks.sqlite`` in the
service's state folder (setting ``state_dir``, made mode 700; empty: next to the archive),
which several processes (the server, ``dedup check``) may write at once; every reader and
writer finds it with :func:`log_path` from the same two settings. The batch folds new rows
into the archive's ``checks`` and ``outcomes`` tables with :func:`fold_check_log`,
idempotently by primary key, before it publishes; the dashboard counts them there.

No name, ID or birth date is stored: the patient is a keyed pseudonym
(:mod:`dedup.check.pseudonym`). The log's statements are named files under ``sql/`` (its
schema is ``sql/check_log.sql``); those that read rows by table are built by ``*_sql()``
functions from the column lists below.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path

import polars as pl

from dedup.archive.db import Archive, beside, named_sql
from dedup.check.outcome import (
    Decision,
    Latest,
    Recorded,
    UnknownCheck,
    plan_outcomes,
    reason_of,
)
from dedup.check.pseudonym import in_state_dir, key_path, load_key, pseudonym
from dedup.check.question import Channel, Outcome, Question
from dedup.check.result import CheckResult
from dedup.errors import StorageError, UsageError
from dedup.private import private_folder

__all__ = ["FOLD_OVERLAP", "CheckLog", "Decision", "Recorded", "UnknownCheck",
           "fold_check_log", "log_path"]

#: The columns of the log's two tables, in table order.
_COLUMNS: dict[str, tuple[str, ...]] = {
    "checks": ("check_id", "asked_at", "client", "channel", "patient_pseudonym", "family",
               "modality", "order_date", "within_days", "institution", "n_priors",
               "prior_study_uids", "recommendation", "latency_ms"),
    "outcomes": ("check_id", "decided_at", "outcome", "reason", "client", "channel"),
}
#: Columns the log keeps that the archive does not (the audit trail only).
_LOG_ONLY: dict[str, tuple[str, ...]] = {"checks": (), "outcomes": ("reported_at",)}
#: The column of each table that says when its row was written.
_CLOCKS = {"checks": "asked_at", "outcomes": "decided_at"}
_MAX_TEXT = 500
log = logging.getLogger("dedup.check")
#: Rows this much older than the newest folded row are read again (INSERT OR IGNORE makes the
#: overlap harmless); it covers rows committed late by a concurrent writer.
FOLD_OVERLAP = timedelta(days=1)


@cache
def _log_sql(name: str) -> str:
    """Return the text of ``dedup/check/sql/<name>.sql``."""
    return resources.files("dedup.check").joinpath("sql", f"{name}.sql").read_text()


def _rows_sql(table: str) -> str:
    """Every row of a log table, every column, in the order written."""
    return (f"SELECT {', '.join(_COLUMNS[table] + _LOG_ONLY[table])} FROM {table} "
            "ORDER BY rowid")


def _rows_since_sql(table: str) -> str:
    """The rows of a log table written at ``?`` (ISO text) or later, oldest first."""
    clock = _CLOCKS[table]
    return (f"SELECT {', '.join(_COLUMNS[table])} FROM {table} WHERE {clock} >= ? "
            f"ORDER BY {clock}")


def log_path(archive_path: str | Path, state_dir: str | Path = "") -> Path:
    """The check log of an archive: ``<archive>.checks.sqlite`` in ``state_dir``.

    Args:
        archive_path: the archive the log belongs to.
        state_dir: the service's state folder (empty: the archive's own folder).

    """
    return beside(in_state_dir(archive_path, state_dir), ".checks.sqlite")


def _left_behind(archive_path: str | Path, state_dir: str | Path) -> None:
    """Refuse to start a new log in ``state_dir`` while the old one beside the archive waits.

    Raises:
        UsageError: a log next to the archive exists, and none in ``state_dir`` yet: its
            rows would never be folded, its pseudonyms never match again.

    """
    old, new = log_path(archive_path), log_path(archive_path, state_dir)
    if state_dir and old != new and old.exists() and not new.exists():
        raise UsageError(
            f"state_dir is {str(state_dir)!r} but the check log is still next to the "
            f"archive; stop the service, then move it and its key: mv {old}* "
            f"{key_path(archive_path)} {state_dir}/")


class CheckLog:
    """The service-owned store of checks and outcomes (thread-safe, multi-process safe).

    Args:
        archive_path: the archive the log belongs to.
        state_dir: the folder the log and its key are in (setting ``state_dir``; empty:
            next to the archive); made mode 700 if missing.
        background: write check rows from a thread, in batches, so a request never waits on
            the disk (the server's choice). A crash loses at most the rows of the last few
            milliseconds; a write failure makes every later check fail loudly. Outcomes are
            always written before the call returns.

    Raises:
        StorageError: the log cannot be opened or written.
        UsageError: the log is still next to the archive although ``state_dir`` is set.

    """

    def __init__(self, archive_path: str | Path, *, state_dir: str | Path = "",
                 background: bool = False) -> None:
        _left_behind(archive_path, state_dir)
        if state_dir:
            private_folder(state_dir)
        self.path = log_path(archive_path, state_dir)
        self._key = load_key(key_path(archive_path, state_dir))
        self._lock = threading.Lock()
        self._failure = ""
        self._queue: queue.SimpleQueue[tuple[object, ...] | threading.Event | None] | None = (
            queue.SimpleQueue() if background else None)
        self._writer: threading.Thread | None = None
        try:
            self._con = _connect(self.path)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the check log {str(self.path)!r}: {exc}") from None
        if self._queue is not None:
            self._writer = threading.Thread(target=self._drain, name="dedup-check-log",
                                            daemon=True)
            self._writer.start()

    def close(self) -> None:
        """Write what is queued and close the connection."""
        if self._queue is not None and self._writer is not None:
            self._queue.put(None)
            self._writer.join(timeout=30)
            self._writer = None
        with self._lock:
            self._con.close()

    def flush(self) -> None:
        """Wait until every check recorded so far is written (no-op when not background)."""
        if self._queue is not None and self._writer is not None:
            done = threading.Event()
            self._queue.put(done)
            done.wait(timeout=30)
        if self._failure:
            raise StorageError(self._failure)

    def record_check(self, question: Question, result: CheckResult, *, client: str,
                     channel: Channel, latency_ms: float) -> None:
        """Write one check: who, when, the question (pseudonymised), what was returned."""
        who = pseudonym(self._key, question.name, question.birth_date.isoformat(),
                        question.sex)
        row = (result.check_id, _iso(result.asked_at), client[:_MAX_TEXT], str(channel), who,
               result.family, question.modality, result.order_date.isoformat(),
               result.window_days, question.institution[:_MAX_TEXT] or None,
               len(result.priors), json.dumps([p.study_uid for p in result.priors]),
               result.recommendation, round(latency_ms, 3))
        if self._failure:
            raise StorageError(self._failure)
        if self._queue is None:
            self._write(_log_sql("insert_check"), row)
        else:
            self._queue.put(row)

    def _drain(self) -> None:
        """The background writer: one transaction per batch of queued rows."""
        assert self._queue is not None
        stop = False
        while not stop:
            waiting: list[threading.Event] = []
            rows: list[tuple[object, ...]] = []
            item = self._queue.get()
            while True:
                if item is None:
                    stop = True
                elif isinstance(item, threading.Event):
                    waiting.append(item)
                else:
                    rows.append(item)
                if stop or len(rows) >= 1000 or self._queue.empty():
                    break
                item = self._queue.get()
            self._write_many(rows)
            for event in waiting:
                event.set()

    def _write_many(self, rows: list[tuple[object, ...]]) -> None:
        if not rows:
            return
        try:
            with self._lock, self._con:  # one transaction, committed on leaving
                self._con.executemany(_log_sql("insert_check"), rows)
        except sqlite3.Error as exc:
            self._failure = f"cannot write the check log {str(self.path)!r}: {exc}"
            log.error("%d check rows not written: %s", len(rows), exc)

    def record_outcomes(self, decisions: list[Decision], *, client: str, channel: Channel,
                        any_check: bool = False) -> list[Recorded]:
        """Write several decisions in one transaction: all of them, or none.

        The rules (:mod:`dedup.check.outcome`) are applied to the log as it is inside the
        transaction, so concurrent writers cannot interleave between reading and writing.

        Args:
            decisions: what was decided, in order.
            client: the token name recording them.
            channel: where they came from.
            any_check: ``client`` may record outcomes of checks other callers asked.

        Returns:
            What became of each decision (stored time, written or a repeat, conflict).

        Raises:
            UnknownCheck: a decision names a check that was never logged.
            NotYourCheck: a decision names a check another caller asked.
            ContradictoryDecisions: the decisions decide one check twice, differently.
            StorageError: the log cannot be written.

        """
        self.flush()
        try:
            with self._lock, self._con:  # committed on leaving, rolled back on an error
                self._con.execute(_log_sql("begin_write"))
                checks = {d.check_id: latest for d in decisions
                          if (latest := self._latest(d.check_id)) is not None}
                recorded = plan_outcomes(decisions, checks, caller=client, any_check=any_check,
                                         now=datetime.now(UTC).replace(tzinfo=None))
                self._con.executemany(_log_sql("insert_outcome"), [
                    (r.check_id, _iso(r.decided_at), str(r.outcome), reason_of(d),
                     client[:_MAX_TEXT], str(channel),
                     _utc_iso(d.reported_at) if d.reported_at else None)
                    for d, r in zip(decisions, recorded, strict=True) if r.written])
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write the check log {str(self.path)!r}: {exc}") from None
        return recorded

    def _latest(self, check_id: str) -> Latest | None:
        """The logged check ``check_id`` and its latest outcome (``None``: never logged)."""
        row = self._con.execute(_log_sql("latest_outcome"), [check_id]).fetchone()
        if row is None:
            return None
        client, outcome, reason, decided_at = row
        return Latest(client, Outcome(outcome) if outcome else None, reason,
                      datetime.fromisoformat(decided_at) if decided_at else None)

    def has_check(self, check_id: str) -> bool:
        """Whether a check with this ID was logged."""
        self.flush()
        with self._lock:
            return self._con.execute(_log_sql("has_check"), [check_id]).fetchone() is not None

    def rows(self, table: str) -> list[dict[str, object]]:
        """Every row of ``checks`` or ``outcomes`` (for tests and audits)."""
        columns = _COLUMNS[table] + _LOG_ONLY[table]
        self.flush()
        with self._lock:
            cursor = self._con.execute(_rows_sql(table))
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def _write(self, sql: str, row: tuple[object, ...]) -> None:
        self._write_all(sql, [row])

    def _write_all(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        """Write ``rows`` in one transaction (committed on leaving, rolled back on error)."""
        try:
            with self._lock, self._con:
                self._con.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write the check log {str(self.path)!r}: {exc}") from None


def _connect(path: Path) -> sqlite3.Connection:
    """Open (creating it owner-only) the log, with its schema current.

    SQLite gives the ``-wal`` and ``-shm`` files the mode of the database file, so creating
    that file 600 keeps all three private whatever the umask.
    """
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    con = sqlite3.connect(path, check_same_thread=False, timeout=10)
    con.executescript(_log_sql("check_log"))
    columns = {row[0] for row in con.execute(_log_sql("outcome_columns"))}
    if "reported_at" not in columns:  # a log written by an older dedup
        with contextlib.suppress(sqlite3.OperationalError):  # another process was first
            con.executescript(_log_sql("outcome_reported_at"))
    return con


def _iso(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="microseconds")


def _utc_iso(moment: datetime) -> str:
    """An aware time as the log's naive UTC text (a naive one is taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return _iso(moment)


def fold_check_log(archive: Archive, state_dir: str | Path = "") -> tuple[int, int]:
    """Copy new check-log rows into the archive's ``checks`` and ``outcomes`` tables.

    Reads the log read-only (the service keeps writing meanwhile). Rows from one
    :data:`FOLD_OVERLAP` before the newest folded row onwards are read again and inserted
    with ``INSERT OR IGNORE``, so running it twice, or after a crash, adds nothing twice.

    Args:
        archive: the batch's writable archive (the caller holds the batch lock).
        state_dir: the folder of the log (setting ``state_dir``; empty: next to the archive).

    Returns:
        Rows added to ``checks`` and ``outcomes``.

    Raises:
        UsageError: the log is still next to the archive although ``state_dir`` is set.

    """
    _left_behind(archive.path, state_dir)
    path = log_path(archive.path, state_dir)
    if not path.exists():
        return 0, 0
    before = archive.run("check_log_in_archive").row(0, named=True)
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        frames = {"checks": _new_rows(con, "checks", before["newest_check"]),
                  "outcomes": _new_rows(con, "outcomes", before["newest_outcome"])}
    finally:
        con.close()
    with archive.transaction():
        for table, frame in frames.items():
            if frame.height:
                archive.register("folded_rows", frame)
                try:
                    archive.execute(named_sql(f"fold_{table}"))
                finally:
                    archive.unregister("folded_rows")
        after = archive.run("check_log_in_archive").row(0, named=True)
    return after["checks"] - before["checks"], after["outcomes"] - before["outcomes"]


def _new_rows(con: sqlite3.Connection, table: str, newest: datetime | None) -> pl.DataFrame:
    """The log's rows of ``table`` from :data:`FOLD_OVERLAP` before ``newest`` onwards."""
    since = _iso(newest - FOLD_OVERLAP) if newest is not None else ""
    columns = _COLUMNS[table]
    rows = con.execute(_rows_since_sql(table), [since]).fetchall()
    frame = pl.DataFrame(rows, schema=list(columns), orient="row", infer_schema_length=None)
    if not frame.height:
        return frame
    frame = frame.with_columns(pl.col(_CLOCKS[table]).str.to_datetime("%Y-%m-%d %H:%M:%S%.f"))
    if "order_date" in columns:
        frame = frame.with_columns(pl.col("order_date").str.to_date("%Y-%m-%d"))
    return frame
