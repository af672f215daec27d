"""``dedup match`` (re-run matching alone) and ``dedup duplicates`` (list what was found)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from dedup.archive.db import Archive, batch_lock, require_existing
from dedup.cli.options import ArchiveOption, FormatOption, SummaryFormatOption
from dedup.cli.output import Format, SummaryFormat, cell, emit_json, emit_rows
from dedup.cli.tables import human_bytes, masked_name, short_uid, table_console
from dedup.config import Settings
from dedup.errors import UsageError
from dedup.records import DuplicateKind

#: The stable columns of ``dedup duplicates``; other tools read them.
COLUMNS = ("study_uid", "duplicate_of_study_uid", "kind", "score", "bytes_reclaimable",
           "detected_at")


def match(
    archive: ArchiveOption = Path("archive.duckdb"),
    fmt: SummaryFormatOption = SummaryFormat.TABLE,
) -> None:
    """Match studies not matched yet against the archive (`dedup index` does this too)."""
    from dedup.match import match as run_match
    from dedup.match.procedures import unknown_procedures

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
    full_uids: Annotated[bool, typer.Option(
        "--full-uids", help="Show whole Study Instance UIDs in the table, not their last "
        "characters.")] = False,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """List duplicates, one row per pair (json and csv: the stable columns, values in full)."""
    kind_value = _kind(kind)
    since_value = _since(since)
    query = "duplicate_rows" if fmt is not Format.TABLE else "duplicate_table_rows"
    with Archive.open(archive, read_only=True) as db:
        rows = db.run(query, [kind_value, since_value]).to_dicts()
    if fmt is Format.TABLE:
        print_duplicates(rows, full_uids=full_uids, filtered=bool(kind or since))
        return
    for row in rows:
        row["detected_at"] = row["detected_at"].isoformat(timespec="seconds")
    emit_rows(rows, fmt, title="duplicates")


def print_duplicates(rows: list[dict[str, Any]], *, full_uids: bool = False,
                     filtered: bool = False) -> None:
    """The duplicates as a table a person reads, with a total line (or "no duplicates")."""
    if not rows:
        typer.echo("no duplicates" + (" match these filters" if filtered else ""))
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("study", "duplicate of"):
        table.add_column(column, no_wrap=not full_uids, overflow="fold")
    for column in ("kind", "reclaimable", "date", "patient"):
        table.add_column(column, no_wrap=True,
                         justify="right" if column == "reclaimable" else "left")
    table.add_column("institution", overflow="fold")
    for row in rows:
        table.add_row(*map(cell, (
            short_uid(row["study_uid"], full=full_uids),
            short_uid(row["duplicate_of_study_uid"], full=full_uids), row["kind"],
            human_bytes(row["bytes_reclaimable"]) if row["bytes_reclaimable"] else "-",
            row["study_date"].isoformat() if row["study_date"] else "",
            masked_name(row["patient_name"]), row["institution"] or "")))
    table_console(wide=full_uids).print(table)
    kinds = Counter(row["kind"] for row in rows)
    total = sum(row["bytes_reclaimable"] or 0 for row in rows)
    typer.echo(f"total: {len(rows)} duplicate{'s' if len(rows) > 1 else ''} ("
               + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
               + f"), {human_bytes(total)} reclaimable")
    typer.echo("every value in full: --format json")


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
