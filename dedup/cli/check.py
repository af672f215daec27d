"""``dedup check``: whether the patient already has a recent study of this kind.

Exit codes let scripts branch: :attr:`dedup.errors.ExitCode.PRIORS_FOUND` when the patient
has priors, otherwise the codes every command uses (:class:`dedup.errors.ExitCode`).
The table fits 100 columns; ``--format json`` has every value in full.
"""

from __future__ import annotations

import os
import re
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dedup.archive.publish import published_path
from dedup.cli.options import SummaryFormatOption, archive_option, config_option
from dedup.cli.output import SummaryFormat, cell, emit_json
from dedup.cli.tables import WIDTH, short_uid, table_console
from dedup.config import Settings, load_config
from dedup.errors import ArchiveError, ExitCode, UsageError
from dedup.printable import printable

#: The question's field names (as the HTTP API spells them) and the flags that set them.
_FLAGS = {"order_date": "--date", "birth_date": "--birth-date", "within_days": "--within-days",
          "patient_id": "--patient-id", "issuer": "--issuer", "name": "--name", "sex": "--sex",
          "laterality": "--laterality", "modality": "--modality"}
_FIELD = re.compile(r"(?:^|(?<=; ))(" + "|".join(_FLAGS) + r")\b|\b(order_date|birth_date|"
                    r"within_days|patient_id)\b|(?<=patient_id and )(issuer)\b")


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
    full_uids: Annotated[bool, typer.Option(
        "--full-uids", help="Show whole Study Instance UIDs, not their last characters.")
    ] = False,
    fmt: SummaryFormatOption = SummaryFormat.TABLE,
    config: Annotated[Path | None, config_option(
        "TOML configuration (its settings: state_dir, the procedure tables, [service] "
        "viewer_url ...).")] = None,
) -> None:
    """Look for priors of the same procedure family before ordering.

    Exits 0 when there is no prior and 5 when there are priors (`yes` or `possible`), so
    scripts can branch; the other codes are those of every command (README: exit codes).
    """
    from dedup.check import Channel, Checker, parse_question
    from dedup.check.log import CheckLog
    from dedup.match.procedures import load_mapping

    loaded = None if config is None else load_config(config)
    settings = Settings().with_env() if loaded is None else loaded.settings
    if archive is not None:
        settings = replace(settings, archive=str(archive))
    archive = Path(settings.archive)
    mapping = load_mapping(settings.procedure_families, settings.lookback_windows)
    try:
        question = parse_question(
            mapping, name=name, birth_date=birth_date, sex=sex, patient_id=patient_id,
            issuer=issuer, procedure=procedure, modality=modality, body_part=body_part,
            description=description, code=code, order_date=date or None,
            within_days=within_days, institution=institution, laterality=laterality)
    except UsageError as exc:
        raise UsageError(flag_names(str(exc))) from None
    if not published_path(archive).exists():
        raise ArchiveError(f"no published archive next to {str(archive)!r} yet; run "
                           "`dedup index` (it publishes when it finishes)")
    checker = Checker(archive, settings, CheckLog(archive, state_dir=settings.state_dir),
                      one_off=True, viewer_url=os.environ.get("DEDUP_VIEWER_URL") or (
                          "" if loaded is None else loaded.service.viewer_url))
    result = checker.check(question, channel=Channel.CLI)
    if fmt is SummaryFormat.JSON:
        emit_json(result.as_dict())
    else:
        _print(result, full_uids=full_uids)
    if result.priors:
        raise typer.Exit(ExitCode.PRIORS_FOUND)


def flag_names(message: str) -> str:
    """A question's problems with each field named by the flag that sets it (``--date``)."""
    return _FIELD.sub(lambda m: _FLAGS[m.group(m.lastindex or 0)], message)


def _print(result: object, *, full_uids: bool) -> None:
    from dedup.check import CheckResult

    assert isinstance(result, CheckResult)
    if result.priors:
        typer.echo(f"Priors: {result.family} within {result.window_days} days up to "
                   f"{result.order_date.isoformat()}")
        links = [p.viewer_url for p in result.priors]
        table = Table()
        for column in ("date", "days ago", "side", "prior?", "institution", "study",
                       "link score", *(["viewer"] if any(links) else [])):
            table.add_column(column, overflow="fold")
        for n, (p, link) in enumerate(zip(result.priors, links, strict=True), 1):
            viewer = [f"[{n}]" if link else ""] if any(links) else []
            table.add_row(*map(cell, (
                p.study_date.isoformat(), p.days_ago, _SIDE.get(p.laterality, "not recorded"),
                p.answer, p.institution or "", short_uid(p.study_uid, full=full_uids),
                f"{p.link_probability:.3f}", *viewer)))
        table_console(wide=full_uids).print(table)
        for n, link in enumerate(links, 1):
            if link:
                typer.echo(f"  [{n}] {printable(link)}")
    typer.echo(textwrap.fill(printable(result.recommendation), WIDTH))
    typer.echo(textwrap.fill(f"Procedure: {printable(result.basis)}", WIDTH,
                             subsequent_indent="  "))
    typer.echo(f"check {result.check_id} (answered from {result.generation})")


_SIDE = {"L": "left", "R": "right", "B": "both", "U": "-"}
