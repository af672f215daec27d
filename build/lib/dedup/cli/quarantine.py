"""``dedup quarantine``: list inputs that could not be indexed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dedup.archive.db import Archive
from dedup.cli.options import ArchiveOption, FormatOption
from dedup.cli.output import Format, emit_rows


def quarantine(
    archive: ArchiveOption = Path("archive.duckdb"),
    run: Annotated[int | None, typer.Option(help="Only this run's entries.")] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """List quarantined inputs with their reason; the source files are untouched."""
    with Archive.open(archive, read_only=True) as db:
        rows = db.run("quarantine_rows", [run]).to_dicts()
    emit_rows(rows, fmt, title="quarantine")
