"""Options shared by several commands, defined once (defaults stay in each command)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dedup.cli.output import Format, SummaryFormat


def archive_option(help: str = "DuckDB archive file.") -> Any:
    """``-a/--archive`` (environment ``DEDUP_ARCHIVE``) with a command's own help."""
    return typer.Option("--archive", "-a", help=help, envvar="DEDUP_ARCHIVE")


def config_option(help: str) -> Any:
    """``-c/--config`` (environment ``DEDUP_CONFIG``) with a command's own help."""
    return typer.Option("--config", "-c", help=help, envvar="DEDUP_CONFIG")


ArchiveOption = Annotated[Path, archive_option()]
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
SummaryFormatOption = Annotated[SummaryFormat, typer.Option(
    "--format", "-f", help="Output format (json: one document for machines).")]
WorkersOption = Annotated[int, typer.Option(help="Worker processes (0 = all cores).")]
PatientsOption = Annotated[int, typer.Option(
    help="Patients in the archive part of each generated corpus.")]
CtSlicesOption = Annotated[int, typer.Option(help="Slices per CT series.")]
PortOption = Annotated[int, typer.Option(help="TCP port to listen on.")]
