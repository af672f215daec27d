"""The nightly batch: pull PACS sources, index every source, publish, report.

One call for cron or a systemd timer. It holds ``<archive>.nightly.lock`` for the whole run
(a second nightly exits 75 at once), pulls each PACS source into the spool, indexes every
configured source plus the spools in one :func:`dedup.batch.pipeline.index` run (which matches and
publishes), and writes a JSON report next to the archive. Its exit codes are
:class:`dedup.errors.ExitCode` (the one table; ``dedup nightly --help`` prints it).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dedup import __version__
from dedup.archive.db import batch_lock, beside
from dedup.archive.publish import published_path
from dedup.batch.pipeline import index
from dedup.config.file import Config, DicomwebSource, DimseSource, OrthancSource, PathSource
from dedup.errors import (
    ArchiveLocked,
    DedupError,
    ExitCode,
    NothingDone,
    disk_full_is_storage_error,
)
from dedup.ingest.orthanc import PullResult, pull
from dedup.ingest.spool import spool_dir
from dedup.records import RunSummary

log = logging.getLogger("dedup.batch.nightly")

Progress = Callable[[int, int], None]
EXIT_OK, EXIT_PARTIAL, EXIT_NOTHING, EXIT_SOFTWARE = (
    ExitCode.OK, ExitCode.PARTIAL, ExitCode.NOTHING_DONE, ExitCode.SOFTWARE)


@dataclass(slots=True)
class SourceReport:
    """What happened to one configured source."""

    name: str
    type: str
    status: str = "ok"  # ok | unreachable | pending (some instances on the retry list)
    detail: str = ""
    pull: dict[str, Any] | None = None


@dataclass(slots=True)
class NightlyReport:
    """One nightly run; written to ``<archive>.nightly.json``. The JSON form is stable."""

    status: str  # ok | partial | nothing-done | failed | locked
    exit_code: int
    started_at: str
    seconds: float
    archive: str
    config: str
    sources: list[SourceReport] = field(default_factory=list)
    index: dict[str, Any] | None = None
    published: str | None = None
    error: str = ""
    version: str = __version__
    host: str = field(default_factory=platform.node)

    def as_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON values."""
        return asdict(self)

    def line(self) -> str:
        """One human-readable line for the log and cron mail (no PHI)."""
        head = f"dedup nightly: {self.status} (exit {self.exit_code}) in {self.seconds:.1f} s"
        reachable = sum(s.status != "unreachable" for s in self.sources)
        pulls = [s.pull for s in self.sources if s.pull]
        parts = [f"{reachable}/{len(self.sources)} sources reachable"]
        if pulls:
            parts.append(f"{sum(p['fetched'] for p in pulls)} files pulled, "
                         f"{sum(p['pending'] for p in pulls)} waiting for retry")
        if self.index:
            i = self.index
            parts.append(f"{i['instances']} new instances in {i['studies']} studies, "
                         f"{i['recognised']} recognised, {i['skipped']} unchanged, "
                         f"{i['quarantined']} quarantined")
        if self.error:
            parts.append(f"error: {self.error}")
        return f"{head}: " + "; ".join(parts)


def spool_root(archive: str | Path) -> Path:
    """The folder beside the archive where PACS sources are spooled."""
    return beside(archive, ".spool")


def report_path(archive: str | Path) -> Path:
    """Where the latest nightly report is written (history goes to ``.jsonl`` beside it)."""
    return beside(archive, ".nightly.json")


def nightly(config: Config, progress: Progress | None = None) -> NightlyReport:
    """Run the nightly batch described by ``config`` and write its report.

    Args:
        config: a validated configuration (see :func:`dedup.config.file.load_config`).
        progress: called by the indexer with (inputs done, bytes done).

    Returns:
        The report; its ``exit_code`` is what ``dedup nightly`` exits with.

    Raises:
        ArchiveLocked: another nightly run, or another writer, holds the archive.

    """
    archive = config.settings.archive
    with batch_lock(f"{archive}.nightly"):
        with batch_lock(archive):
            pass  # fail fast, before pulling, if another writer holds the archive
        started = time.monotonic()
        report = NightlyReport(status="failed", exit_code=ExitCode.ERROR, archive=archive,
                               started_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), seconds=0.0,
                               config=str(config.path or ""))
        try:
            paths = _gather(config, report)
            summary = _index(paths, config, progress)
            report.index = summary.as_dict()
            report.published = str(published_path(archive)) if config.settings.publish else None
            report.status, report.exit_code = _outcome(config, report, summary)
        except DedupError as exc:
            report.status = {NothingDone: "nothing-done", ArchiveLocked: "locked"}.get(
                type(exc), "failed")
            report.exit_code, report.error = exc.exit_code, str(exc)
        except Exception as exc:  # a bug: still leave a report, then show the traceback
            report.exit_code, report.error = EXIT_SOFTWARE, f"internal error ({type(exc).__name__})"
            report.seconds = round(time.monotonic() - started, 3)
            _write_report(report)
            raise
        report.seconds = round(time.monotonic() - started, 3)
        _write_report(report)
    return report


def _gather(config: Config, report: NightlyReport) -> list[str]:
    """Pull every PACS source and return the paths to index, in configuration order."""
    root = spool_root(config.settings.archive)
    paths = []
    for source in config.sources:
        entry = SourceReport(source.name, source.type)
        report.sources.append(entry)
        if isinstance(source, PathSource):
            if Path(source.path).exists():
                paths.append(source.path)
            else:
                entry.status, entry.detail = "unreachable", "path does not exist (not mounted?)"
                log.warning("source %s: %s", source.name, entry.detail)
            continue
        result = _pull(source, root)
        entry.pull = result.as_dict()
        if result.unreachable:
            entry.status, entry.detail = "unreachable", result.unreachable
        elif result.pending:
            entry.status = "pending"
            entry.detail = f"{result.pending} instances failed; retried next run"
        elif result.spool_full:
            entry.status, entry.detail = "pending", "spool limit reached; the rest next run"
        paths.append(str(spool_dir(root, source.name)))  # always: an interrupted run left files
    return paths


def _pull(source: OrthancSource | DicomwebSource | DimseSource, root: Path) -> PullResult:
    log.info("source %s: pulling new instances", source.name)
    if isinstance(source, DicomwebSource):  # its client (and requests) only when one is set
        from dedup.ingest import dicomweb

        result = dicomweb.pull(source, root)
    elif isinstance(source, DimseSource):  # pynetdicom only when a dimse source is set
        from dedup.ingest.dimse import pull_dimse

        result = pull_dimse(source, root)
    else:
        result = pull(source, root, password=source.password())
    log.info("source %s: %d files pulled (%.1f MB), %d already spooled, %d retried, %d gone, "
             "%d waiting for retry in %.1f s", source.name, result.fetched, result.bytes / 1e6,
             result.already, result.retried, result.gone, result.pending, result.seconds)
    return result


def _index(paths: list[str], config: Config, progress: Progress | None) -> RunSummary:
    log.info("indexing %d source folders", len(paths))
    with disk_full_is_storage_error(config.settings.archive):
        summary = index(paths, config.settings, progress)
    log.info("indexed: run %d, %d new instances, %d recognised, %d quarantined",
             summary.run_id, summary.instances, summary.recognised, summary.quarantined)
    return summary


def _outcome(config: Config, report: NightlyReport, summary: RunSummary) -> tuple[str, int]:
    reachable = [s for s in report.sources if s.status != "unreachable"]
    if not reachable and not (summary.instances or summary.recognised):
        return "nothing-done", EXIT_NOTHING
    troubled = len(reachable) < len(report.sources) or any(
        s.status == "pending" for s in report.sources)
    if (config.settings.strict_sources and troubled) or (
            config.settings.fail_on_quarantine and summary.quarantined):
        return "partial", EXIT_PARTIAL
    return "ok", EXIT_OK


def _write_report(report: NightlyReport) -> None:
    """Write the latest report atomically and append it to the history; never raises."""
    path = report_path(report.archive)
    doc = report.as_dict()
    try:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        with open(path.with_suffix(".jsonl"), "a", encoding="utf-8") as history:
            history.write(json.dumps(doc) + "\n")
    except OSError as exc:
        log.error("cannot write the run report %s: %s", path, exc.strerror or exc)
