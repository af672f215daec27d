"""Options shared by several commands, defined once (defaults stay in each command)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dedup.cli.output import Format, SummaryFormat


def archive_option(help: str = "DuckDB archive file.", *, short: bool = True) -> Any:
    """``--archive`` (``-a``; environment ``DEDUP_ARCHIVE``) with a command's own help."""
    flags = ("--archive", "-a") if short else ("--archive",)
    return typer.Option(*flags, help=help, envvar="DEDUP_ARCHIVE")


def config_option(help: str, *, short: bool = True) -> Any:
    """``--config`` (``-c``; environment ``DEDUP_CONFIG``) with a command's own help."""
    flags = ("--config", "-c") if short else ("--config",)
    return typer.Option(*flags, help=help, envvar="DEDUP_CONFIG")


ArchiveOption = Annotated[Path, archive_option()]
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
SummaryFormatOption = Annotated[SummaryFormat, typer.Option(
    "--format", "-f", help="Output format (json: one document for machines).")]
WorkersOption = Annotated[int, typer.Option(help="Worker processes (0 = all cores).")]
PatientsOption = Annotated[int, typer.Option(
    help="Patients in the archive part of each generated corpus.")]
CtSlicesOption = Annotated[int, typer.Option(help="Slices per CT series.")]
PortOption = Annotated[int, typer.Option(help="TCP port to listen on.")]
