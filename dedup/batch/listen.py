"""``dedup listen``: receive instances over DICOM and match each study once it goes quiet.

The storage SCP (:mod:`dedup.ingest.storescp`) acknowledges an instance only once it is on
disk in the spool. This loop indexes a study's spool folder with
:func:`dedup.batch.pipeline.index` (fingerprint, commit, match, publish: the nightly's one
entry point) once no instance of it has arrived for ``idle_seconds``; studies that go quiet
together are indexed in one run. A study is indexed whole, as one arrival, as the nightly
would index it: matching half a study would report a ``partial`` copy that is none. The
duplicates the run found are logged by surrogate study key (no UID, name or ID).

The spool is the queue: at start every study folder in it is indexed again, and the indexer
skips the files it already holds, so what was acknowledged before a ``kill -9`` is indexed by
the next start. When another process holds the archive (a nightly run), the studies wait and
are tried again after ``idle_seconds``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from dedup.archive.db import Archive, beside
from dedup.batch.pipeline import index
from dedup.batch.writeback import Finding, write_back
from dedup.config.file import Config
from dedup.config.listen import ListenSection
from dedup.config.settings import Settings
from dedup.errors import (
    ArchiveError,
    ArchiveLocked,
    DedupError,
    NothingDone,
    UsageError,
    disk_full_is_storage_error,
)
from dedup.ingest.storescp import StorageSCP

log = logging.getLogger("dedup.listen")

_POLL = 0.25  # seconds between looks for quiet studies
_STUDIES_PER_RUN = 64  # so that SIGTERM waits for one bounded run at most


def listen_spool(config: Config) -> Path:
    """The folder ``dedup listen`` spools to: ``[listen] spool``, else ``<archive>.listen``."""
    section = config.listen
    if section is not None and section.spool:
        return Path(section.spool)
    return beside(config.settings.archive, ".listen")


def listen(config: Config, stop: threading.Event, *, port: int | None = None,
           ready: Callable[[int], None] | None = None) -> None:
    """Serve storage and index quiet studies until ``stop`` is set.

    Args:
        config: with a ``[listen]`` section.
        stop: set it (e.g. from a SIGTERM handler) to stop after the current run.
        port: overrides ``[listen] port``.
        ready: called with the port once the listener accepts associations.

    Raises:
        UsageError: the configuration has no ``[listen]`` section.
        OSError: the address cannot be bound, or the spool cannot be created.

    """
    section = config.listen
    if section is None:
        raise UsageError("the configuration has no [listen] section; add one with ae_title, "
                         "port and the allowed calling AE titles (docs/listen.md)")
    spool = listen_spool(config)
    quiet = QuietStudies()
    scp = StorageSCP(section, spool, quiet.arrived)
    bound = scp.start(port)
    backlog = [p for p in spool.iterdir() if p.is_dir() and not p.name.startswith(".")]
    for folder in backlog:
        quiet.arrived(folder, at=float("-inf"))  # spooled before this start: index now
    log.info("listening as %s on %s:%d (spool %s, %d studies to check)", section.ae_title,
             section.host, bound, spool, len(backlog))
    if ready:
        ready(bound)
    try:
        while not stop.is_set():
            due = quiet.due(section.idle_seconds, _STUDIES_PER_RUN)
            if not due:
                stop.wait(_POLL)
            elif not _index_studies(due, config.settings, section):
                quiet.again(due)
    finally:
        scp.stop()
        log.info("listener stopped: %d instances received, %d studies not indexed yet "
                 "(indexed by the next start)", scp.received, quiet.waiting())


class QuietStudies:
    """Study folders with instances not indexed yet, and when each last received one."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: dict[Path, float] = {}
        self._lock = threading.Lock()

    def arrived(self, folder: Path, at: float | None = None) -> None:
        """Note an instance written to ``folder`` (now, or at ``at``)."""
        with self._lock:
            self._last[folder] = self._clock() if at is None else at

    def due(self, idle: float, limit: int) -> list[Path]:
        """Take up to ``limit`` folders quiet for ``idle`` seconds, the longest quiet first."""
        now = self._clock()
        with self._lock:
            quiet = sorted((t, f) for f, t in self._last.items() if now - t >= idle)[:limit]
            for _, folder in quiet:
                del self._last[folder]
        return [folder for _, folder in quiet]

    def again(self, folders: list[Path]) -> None:
        """Put back folders that could not be indexed: tried again after the idle time."""
        now = self._clock()
        with self._lock:
            for folder in folders:
                self._last.setdefault(folder, now)

    def waiting(self) -> int:
        """How many study folders wait to be indexed."""
        with self._lock:
            return len(self._last)


def _index_studies(folders: list[Path], settings: Settings, section: ListenSection) -> bool:
    """Index and match ``folders`` in one run and log what it found; False: try again later."""
    try:
        with disk_full_is_storage_error(settings.archive):
            summary = index([str(f) for f in folders], settings)
    except ArchiveLocked:
        log.info("archive in use by another process; %d studies wait", len(folders))
        return False
    except NothingDone as exc:
        log.warning("%d studies: nothing could be indexed (%s)", len(folders), exc)
        return True
    except DedupError as exc:
        log.error("%d studies not indexed, tried again later: %s", len(folders), exc)
        return False
    log.info("indexed %d studies in run %d: %d new instances, %d recognised, %d quarantined "
             "in %.1f s", len(folders), summary.run_id, summary.instances, summary.recognised,
             summary.quarantined, summary.seconds)
    findings = _log_duplicates(settings.archive, summary.run_id)
    if findings and section.writeback_url:
        flagged = write_back(section, findings, section.password())
        log.info("written back: %d of %d findings flagged on the PACS", flagged, len(findings))
    return True


def _log_duplicates(archive: str, run_id: int) -> list[Finding]:
    """Log the duplicates a run found (by study key) and return them for the write-back."""
    try:
        with Archive.open(archive, read_only=True) as db:
            rows = db.run("run_duplicates", [run_id])
    except (ArchiveError, ArchiveLocked) as exc:  # a nightly holds it; the rows are there
        log.info("duplicates of run %d not listed: %s", run_id, exc)
        return []
    findings = []
    for study, kind, other, score, size, uid, of_uid in rows.iter_rows():
        log.warning("duplicate: study %d is %s of study %d (score %.3f, %d bytes reclaimable, "
                    "run %d)", study, kind, other, score, size, run_id)
        findings.append(Finding(uid, kind, of_uid, score))
    return findings
