"""``dedup check``: whether the patient already has a recent study of this kind.

Exit codes let scripts branch: :data:`PRIORS_FOUND` when the patient has priors, otherwise
those of :class:`dedup.errors.ExitCode`, except that an archive that cannot be read exits
``ExitCode.ERROR`` (``ExitCode.ARCHIVE`` has the number of PRIORS_FOUND).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dedup.archive.publish import published_path
from dedup.cli.options import SummaryFormatOption, archive_option, config_option
from dedup.cli.output import SummaryFormat, cell, emit_json
from dedup.config import Settings, load_config
from dedup.errors import ArchiveError, ExitCode
from dedup.printable import printable

#: The exit code of ``dedup check`` when priors were found (its own meaning of 3).
PRIORS_FOUND = 3


def check(
    name: Annotated[str, typer.Option(help="Patient name: FAMILY^GIVEN^MIDDLE.")] = "",
    birth_date: Annotated[str, typer.Option(help="Birth date, YYYY-MM-DD.")] = "",
    sex: Annotated[str, typer.Option(help="M, F, O or U.")] = "",
    patient_id: Annotated[str, typer.Option(help="Patient ID (with --issuer).")] = "",
    issuer: Annotated[str, typer.Option(help="Issuer of the patient ID.")] = "",
    procedure: Annotated[str, typer.Option(help="Procedure family, e.g. 'CT HEAD' or "
                                                 "'XR HAND' (modality class + body part).")] = "",
    modality: Annotated[str, typer.Option(help="Modality, e.g. CT (instead of "
                                                "--procedure).")] = "",
    body_part: Annotated[str, typer.Option(help="Body part, e.g. HEAD.")] = "",
    description: Annotated[str, typer.Option(help="Procedure description.")] = "",
    code: Annotated[str, typer.Option(help="Procedure code, e.g. 70450.")] = "",
    laterality: Annotated[str, typer.Option(help="Side: L, R or B (default: read from the "
                                                 "description, else not known).")] = "",
    date: Annotated[str, typer.Option("--date", help="Order date, YYYY-MM-DD (default "
                                                     "today).")] = "",
    within_days: Annotated[int | None, typer.Option(help="Look-back window in days "
                                                         "(default: the family's).")] = None,
    institution: Annotated[str, typer.Option(help="The ordering institution.")] = "",
    archive: Annotated[Path | None, archive_option(
        "DuckDB archive file (its published snapshot is read) "
        "[default: the config's, else archive.duckdb]")] = None,
    fmt: SummaryFormatOption = SummaryFormat.TABLE,
    config: Annotated[Path | None, config_option(
        "TOML configuration (its settings: state_dir, the procedure tables ...).",
        short=False)] = None,
) -> None:
    """Look for priors of the same procedure family before ordering (exit 3 if any)."""
    from dedup.check import Channel, Checker, parse_question
    from dedup.check.log import CheckLog
    from dedup.match.procedures import load_mapping

    settings = Settings().with_env() if config is None else load_config(config).settings
    if archive is not None:
        settings = replace(settings, archive=str(archive))
    archive = Path(settings.archive)
    mapping = load_mapping(settings.procedure_families, settings.lookback_windows)
    question = parse_question(
        mapping, name=name, birth_date=birth_date, sex=sex, patient_id=patient_id,
        issuer=issuer, procedure=procedure, modality=modality, body_part=body_part,
        description=description, code=code, order_date=date or None,
        within_days=within_days, institution=institution, laterality=laterality)
    try:
        if not published_path(archive).exists():
            raise ArchiveError(f"no published archive next to {str(archive)!r} yet; run "
                               "`dedup index` (it publishes when it finishes)")
        checker = Checker(archive, settings, CheckLog(archive, state_dir=settings.state_dir),
                          one_off=True)
        result = checker.check(question, channel=Channel.CLI)
    except ArchiveError as exc:  # not ExitCode.ARCHIVE: that number means "priors found"
        print(f"dedup: error: {printable(exc, lines=True)}", file=sys.stderr)
        raise typer.Exit(ExitCode.ERROR) from None
    if fmt is SummaryFormat.JSON:
        emit_json(result.as_dict())
    else:
        _print(result)
    if result.priors:
        raise typer.Exit(PRIORS_FOUND)


def _print(result: object) -> None:
    from dedup.check import CheckResult

    assert isinstance(result, CheckResult)
    if result.priors:
        typer.echo(f"Priors: {result.family} within {result.window_days} days up to "
                   f"{result.order_date.isoformat()}")
        table = Table()
        for column in ("study date", "days ago", "side", "prior?", "institution", "study UID",
                       "images", "patient match"):
            table.add_column(column)
        for p in result.priors:
            table.add_row(*map(cell, (
                p.study_date.isoformat(), p.days_ago, _SIDE.get(p.laterality, "not recorded"),
                p.answer, p.institution, p.study_uid, p.location or "not recorded",
                f"{p.link_probability:.4f} ({', '.join(p.link_reasons)})")))
        Console(width=None if sys.stdout.isatty() else 250).print(table)
    typer.echo(printable(result.recommendation))
    typer.echo(f"Procedure: {printable(result.basis)}")
    typer.echo(f"check {result.check_id} (answered from {result.generation})")


_SIDE = {"L": "left", "R": "right", "B": "both", "U": "-"}
