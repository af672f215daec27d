"""``dedup index``: fingerprint DICOM inputs into the archive."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from dedup.batch.workers import worker_context
from dedup.cli.options import ArchiveOption, SummaryFormatOption, WorkersOption
from dedup.cli.output import SummaryFormat, emit_json, log, progress_reporter
from dedup.config import Settings
from dedup.errors import (
    DedupError,
    ExitCode,
    NothingDone,
    UsageError,
    disk_full_is_storage_error,
)
from dedup.records import RunSummary


def index(
    paths: Annotated[list[Path], typer.Argument(
        metavar="PATH", help="Folders, files, zips or DICOMDIR media.")],
    archive: ArchiveOption = Path("archive.duckdb"),
    workers: WorkersOption = 0,
    fmt: SummaryFormatOption = SummaryFormat.TABLE,
) -> None:
    """Index DICOM studies: fingerprint new files and commit them to the archive."""
    try:
        settings = Settings(archive=str(archive), workers=workers).with_env()
        _require_inputs(paths)
        worker_context(settings)  # the workers' server imports while this process does
        from dedup.batch.pipeline import index as run_index  # here: other commands start sooner

        with progress_reporter("indexing") as progress, \
                disk_full_is_storage_error(settings.archive):
            summary = run_index(paths, settings, progress)
    except DedupError as exc:  # cron wrappers read the JSON on every exit
        if fmt is SummaryFormat.JSON:
            emit_json(exc.report())
        raise
    except Exception as exc:
        if fmt is SummaryFormat.JSON:
            emit_json({"status": "failed", "exit_code": int(ExitCode.SOFTWARE),
                       "error": f"internal error ({type(exc).__name__})"})
        raise
    if fmt is SummaryFormat.JSON:
        emit_json(summary.as_dict())
    else:
        print_summary(summary, settings.archive)


def _require_inputs(paths: list[Path]) -> None:
    """Refuse paths that do not exist, and inputs that hold no file, before anything is done.

    Raises:
        UsageError: a path does not exist (each one is named).
        NothingDone: the paths hold no file at all (an empty folder).

    """
    from dedup.ingest.sources import walk  # pydicom: only when indexing

    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise UsageError(f"no such input: {', '.join(map(repr, missing))}; check the path "
                         "(nothing was indexed)")
    if next(walk(paths), None) is None:
        shown = ", ".join(repr(str(path)) for path in paths)
        raise NothingDone(f"no files in {shown}: nothing to index", {"files": 0})


def print_summary(summary: RunSummary, archive: str) -> None:
    """One screen: what was added, skipped, recognised and quarantined, and what next."""
    rate = summary.files / summary.seconds if summary.seconds else 0.0
    lines = [
        f"run {summary.run_id}: {summary.status} in {summary.seconds:.1f} s "
        f"({summary.files} inputs, {rate:.0f}/s)",
        f"  added       {summary.instances} instances in {summary.series} series of "
        f"{summary.studies} studies ({summary.bytes / 1e6:.1f} MB)",
        f"  skipped     {summary.skipped} unchanged since an earlier run",
        f"  recognised  {summary.recognised} already archived under another path",
        f"  quarantined {summary.quarantined}"
        + "".join(f"\n    {n:>6}  {reason}" for reason, n in
                  sorted(summary.quarantine_reasons.items())),
    ]
    if summary.conflicts:
        lines.append(f"  conflicts   {summary.conflicts} SOP Instance UIDs archived with other "
                     "pixels (recorded; matching says which are lossy copies)")
    found = ", ".join(f"{n} {kind}" for kind, n in sorted(summary.duplicates.items()) if n)
    lines.append(f"  duplicates  {found or 'none found'}")
    where = shlex.quote(archive)
    if summary.quarantined:
        lines.append(f"  list them with: dedup quarantine --archive {where}")
    if found:
        lines.append(f"  list them with: dedup duplicates --archive {where}")
    for line in lines:
        typer.echo(line)
    log.debug("summary printed")
