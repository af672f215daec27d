"""``dedup match`` (re-run matching alone) and ``dedup duplicates`` (list what was found)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from dedup.archive.db import Archive, batch_lock, require_existing
from dedup.cli.options import ArchiveOption, FormatOption, SummaryFormatOption
from dedup.cli.output import Format, SummaryFormat, emit_json, emit_rows
from dedup.config import Settings
from dedup.errors import UsageError
from dedup.match import match as run_match
from dedup.match.procedures import unknown_procedures
from dedup.records import DuplicateKind

#: The stable columns of ``dedup duplicates``; other tools read them.
COLUMNS = ("study_uid", "duplicate_of_study_uid", "kind", "score", "bytes_reclaimable",
           "detected_at")


def match(
    archive: ArchiveOption = Path("archive.duckdb"),
    fmt: SummaryFormatOption = SummaryFormat.TABLE,
) -> None:
    """Match studies not matched yet against the archive (`dedup index` does this too)."""
    settings = Settings(archive=str(archive)).with_env()
    require_existing(settings.archive)  # before the lock file is made beside it
    with batch_lock(settings.archive), Archive.open(settings.archive, create=False) as db:
        summary = run_match(db, settings)
        unknown = unknown_procedures(db).head(10).to_dicts()
    if fmt is SummaryFormat.JSON:
        emit_json(summary.as_dict() | {"unknown_procedure_examples": unknown})
        return
    kinds = ", ".join(f"{n} {kind}" for kind, n in summary.duplicates.items()) or "none"
    typer.echo(f"matched {summary.studies} studies in {summary.seconds:.1f} s "
               f"({summary.candidates} candidate pairs verified)")
    typer.echo(f"  duplicates   {kinds}; {summary.exact} new exact re-sends")
    typer.echo(f"  patients     {summary.patient_links} new cross-institution links")
    typer.echo(f"  procedures   {summary.unknown_procedures} studies of unknown family")
    for row in unknown:
        typer.echo(f"    {row['studies']:>6}  {row['fallback_family']}: "
                   f"{row['description'] or '(no description)'}")
    if unknown:
        typer.echo("  add rows for them to the procedure family table "
                   "(setting procedure_families)")


def duplicates(
    archive: ArchiveOption = Path("archive.duckdb"),
    kind: Annotated[str | None, typer.Option(
        help="Only this kind: exact, same-content, partial, near or repeat.")] = None,
    since: Annotated[str | None, typer.Option(
        help="Only rows detected on or after this date (YYYY-MM-DD).")] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """List duplicates, one row per pair, with stable column names."""
    kind_value = _kind(kind)
    since_value = _since(since)
    with Archive.open(archive, read_only=True) as db:
        rows = db.run("duplicate_rows", [kind_value, since_value]).to_dicts()
    if fmt is not Format.TABLE:
        for row in rows:
            row["detected_at"] = row["detected_at"].isoformat(timespec="seconds")
    emit_rows(rows, fmt, title="duplicates")


def _kind(kind: str | None) -> str | None:
    if kind is None:
        return None
    try:
        return DuplicateKind(kind).value
    except ValueError:
        raise UsageError(f"--kind {kind!r} is not a duplicate kind; use one of "
                         + ", ".join(k.value for k in DuplicateKind)) from None


def _since(since: str | None) -> datetime | None:
    if since is None:
        return None
    try:
        return datetime.fromisoformat(since)
    except ValueError:
        raise UsageError(f"--since {since!r} is not a date; use YYYY-MM-DD") from None
