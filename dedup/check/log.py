"""The check log: every pre-order check and every recorded outcome, owned by the service.

The archive belongs to the nightly batch (one writer per DuckDB file), so online writes go to
a store the service owns: an SQLite file in WAL mode next to the archive
(``<archive>.checks.sqlite``), which several processes (the server, ``dedup check``) may
write at once. The batch folds new rows into the archive's ``checks`` and ``outcomes`` tables
with :func:`fold_check_log`, idempotently by primary key, before it publishes; the dashboard
counts them there.

No name, ID or birth date is stored: the patient is a pseudonym, an HMAC-SHA256 of the
normalised family name, given name, birth date and sex under a key kept in
``<archive>.checks.key`` (created with mode 0600; a key readable by others is refused). The
same patient gets the same pseudonym across checks, which is what an audit needs, while the
pseudonym cannot be reversed or recomputed without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import queue
import secrets
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from dedup.archive.db import Archive, beside
from dedup.errors import StorageError, UsageError
from dedup.match.linkage import normalise_name

if TYPE_CHECKING:
    from dedup.check.answer import Channel, CheckResult, Outcome, Question

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checks (
    check_id TEXT PRIMARY KEY, asked_at TEXT NOT NULL, client TEXT NOT NULL,
    channel TEXT NOT NULL, patient_pseudonym TEXT NOT NULL, family TEXT, modality TEXT,
    order_date TEXT, within_days INTEGER, institution TEXT, n_priors INTEGER NOT NULL,
    prior_study_uids TEXT NOT NULL, recommendation TEXT NOT NULL, latency_ms REAL);
CREATE INDEX IF NOT EXISTS checks_asked_at ON checks (asked_at);
CREATE TABLE IF NOT EXISTS outcomes (
    check_id TEXT NOT NULL, decided_at TEXT NOT NULL, outcome TEXT NOT NULL, reason TEXT,
    client TEXT NOT NULL, channel TEXT NOT NULL, PRIMARY KEY (check_id, decided_at));
CREATE INDEX IF NOT EXISTS outcomes_decided_at ON outcomes (decided_at);
"""
_CHECK_COLUMNS = ("check_id", "asked_at", "client", "channel", "patient_pseudonym", "family",
                  "modality", "order_date", "within_days", "institution", "n_priors",
                  "prior_study_uids", "recommendation", "latency_ms")
_OUTCOME_COLUMNS = ("check_id", "decided_at", "outcome", "reason", "client", "channel")
_INSERT_CHECK = f"INSERT INTO checks VALUES ({', '.join('?' * len(_CHECK_COLUMNS))})"
_MAX_TEXT = 500
log = logging.getLogger("dedup.check")
#: Rows this much older than the newest folded row are read again (INSERT OR IGNORE makes the
#: overlap harmless); it covers rows committed late by a concurrent writer.
FOLD_OVERLAP = timedelta(days=1)


class UnknownCheck(UsageError):
    """An outcome names a check ID this log has never seen."""


def log_path(archive_path: str | Path) -> Path:
    """The check log of an archive: ``<archive>.checks.sqlite`` next to it."""
    return beside(archive_path, ".checks.sqlite")


def key_path(archive_path: str | Path) -> Path:
    """The pseudonym key of an archive: ``<archive>.checks.key`` next to it."""
    return beside(archive_path, ".checks.key")


def load_key(path: str | Path) -> bytes:
    """Read the pseudonym key, creating it (32 random bytes, mode 0600) if it is missing.

    Raises:
        UsageError: the key file is readable or writable by group or others, or malformed.

    """
    path = Path(path)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)  # atomic: a concurrent creator's key wins, never a mix
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise UsageError(f"pseudonym key {str(path)!r} has mode {mode:o}; it must be readable "
                         f"by its owner only: chmod 600 {path}")
    try:
        return bytes.fromhex(path.read_text().strip())
    except ValueError:
        raise UsageError(f"pseudonym key {str(path)!r} is not hex; delete it to create a new "
                         "one (pseudonyms of earlier checks will no longer match)") from None


def pseudonym(key: bytes, name: str, birth_date: str, sex: str) -> str:
    """Keyed, stable pseudonym of a patient's normalised demographics (32 hex characters)."""
    parts = normalise_name(name)
    text = f"{parts.family}|{parts.given}|{birth_date}|{sex.upper()[:1]}"
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:32]


class CheckLog:
    """The service-owned store of checks and outcomes (thread-safe, multi-process safe).

    Args:
        archive_path: the archive the log sits next to.
        background: write check rows from a thread, in batches, so a request never waits on
            the disk (the server's choice). A crash loses at most the rows of the last few
            milliseconds; a write failure makes every later check fail loudly. Outcomes are
            always written before the call returns.

    Raises:
        StorageError: the log cannot be opened or written.

    """

    def __init__(self, archive_path: str | Path, *, background: bool = False) -> None:
        self.path = log_path(archive_path)
        self._key = load_key(key_path(archive_path))
        self._lock = threading.Lock()
        self._failure = ""
        self._queue: queue.SimpleQueue[tuple[object, ...] | threading.Event | None] | None = (
            queue.SimpleQueue() if background else None)
        self._writer: threading.Thread | None = None
        try:
            self._con = sqlite3.connect(self.path, check_same_thread=False, timeout=10,
                                        isolation_level=None)
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=NORMAL")
            self._con.executescript(_SCHEMA)
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
            self._write(_INSERT_CHECK, row)
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
            with self._lock:
                self._con.execute("BEGIN")
                self._con.executemany(_INSERT_CHECK, rows)
                self._con.execute("COMMIT")
        except sqlite3.Error as exc:
            self._failure = f"cannot write the check log {str(self.path)!r}: {exc}"
            log.error("%d check rows not written: %s", len(rows), exc)

    def record_outcome(self, check_id: str, outcome: Outcome, reason: str | None, *,
                       client: str, channel: Channel, decided_at: datetime | None = None
                       ) -> datetime:
        """Write what was decided after check ``check_id`` (repeating one is harmless).

        Returns:
            The decision time stored (UTC).

        Raises:
            UnknownCheck: no check with that ID was logged.

        """
        if not self.has_check(check_id):
            raise UnknownCheck(f"unknown check_id {check_id[:64]!r}: record outcomes only for "
                               "checks this service answered")
        when = (decided_at or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
        self._write("INSERT OR IGNORE INTO outcomes VALUES (?, ?, ?, ?, ?, ?)",
                    (check_id, _iso(when), str(outcome), (reason or "")[:_MAX_TEXT] or None,
                     client[:_MAX_TEXT], str(channel)))
        return when

    def has_check(self, check_id: str) -> bool:
        """Whether a check with this ID was logged."""
        self.flush()
        with self._lock:
            return self._con.execute("SELECT 1 FROM checks WHERE check_id = ?",
                                     [check_id]).fetchone() is not None

    def rows(self, table: str) -> list[dict[str, object]]:
        """Every row of ``checks`` or ``outcomes`` (for tests and audits)."""
        columns = {"checks": _CHECK_COLUMNS, "outcomes": _OUTCOME_COLUMNS}[table]
        self.flush()
        with self._lock:
            cursor = self._con.execute(f"SELECT {', '.join(columns)} FROM {table} "
                                       "ORDER BY rowid")
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def _write(self, sql: str, row: tuple[object, ...]) -> None:
        try:
            with self._lock:
                self._con.execute(sql, row)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write the check log {str(self.path)!r}: {exc}") from None


def _iso(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="microseconds")


def fold_check_log(archive: Archive) -> tuple[int, int]:
    """Copy new check-log rows into the archive's ``checks`` and ``outcomes`` tables.

    Reads the log read-only (the service keeps writing meanwhile). Rows from one
    :data:`FOLD_OVERLAP` before the newest folded row onwards are read again and inserted
    with ``INSERT OR IGNORE``, so running it twice, or after a crash, adds nothing twice.

    Args:
        archive: the batch's writable archive (the caller holds the batch lock).

    Returns:
        Rows added to ``checks`` and ``outcomes``.

    """
    path = log_path(archive.path)
    if not path.exists():
        return 0, 0
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        checks = _new_rows(con, archive, "checks", "asked_at", _CHECK_COLUMNS)
        outcomes = _new_rows(con, archive, "outcomes", "decided_at", _OUTCOME_COLUMNS)
    finally:
        con.close()
    added = []
    with archive.transaction():
        for table, frame in (("checks", checks), ("outcomes", outcomes)):
            before = int(archive.scalar(f"SELECT count(*) FROM {table}"))
            if frame.height:
                archive.register("folded_rows", frame)
                try:
                    archive.execute(f"INSERT OR IGNORE INTO {table} BY NAME "
                                    "SELECT * FROM folded_rows")
                finally:
                    archive.unregister("folded_rows")
            added.append(int(archive.scalar(f"SELECT count(*) FROM {table}")) - before)
    return added[0], added[1]


def _new_rows(con: sqlite3.Connection, archive: Archive, table: str, clock: str,
              columns: tuple[str, ...]) -> pl.DataFrame:
    newest = archive.scalar(f"SELECT max({clock}) FROM {table}")
    since = _iso(newest - FOLD_OVERLAP) if newest is not None else ""
    rows = con.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {clock} >= ? "
                       f"ORDER BY {clock}", [since]).fetchall()
    frame = pl.DataFrame(rows, schema=list(columns), orient="row", infer_schema_length=None)
    if not frame.height:
        return frame
    frame = frame.with_columns(pl.col(clock).str.to_datetime("%Y-%m-%d %H:%M:%S%.f"))
    if "order_date" in columns:
        frame = frame.with_columns(pl.col("order_date").str.to_date("%Y-%m-%d"))
    return frame
