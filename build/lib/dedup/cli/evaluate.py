"""``dedup eval``: matching accuracy on labelled corpora (a thin layer over dedup.evaluate)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dedup.cli.options import CtSlicesOption, FormatOption, PatientsOption, WorkersOption
from dedup.cli.output import Format, emit_json, emit_rows, log
from dedup.config import Settings
from dedup.errors import ExitCode


def evaluate(
    seeds: Annotated[int, typer.Option(help="Labelled corpora to build (seeds 0..N-1).")] = 4,
    patients: PatientsOption = 6,
    ct_slices: CtSlicesOption = 4,
    out: Annotated[Path | None, typer.Option(
        help="Keep the corpora and archives in this folder (default: a temporary one).")] = None,
    third_party: Annotated[bool, typer.Option(
        help="Add duplicates made by DCMTK, GDCM and dicognito (they must be installed).")
    ] = True,
    population: Annotated[int, typer.Option(
        help="Also judge a population of this many studies without any duplicate (every "
             "flag but repeat there is false; 0: none).")] = 0,
    population_patients: Annotated[int, typer.Option(
        help="The people in that population (3 to 400).")] = 300,
    workers: WorkersOption = 2,
    check: Annotated[bool, typer.Option(
        help=f"Exit with status {ExitCode.ERROR:d} when a precision or recall target is "
             "missed.")] = False,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Measure matching accuracy: precision, recall and F1 per kind, confusion matrix.

    Thresholds come from the settings (``DEDUP_MATCH_*`` overrides are evaluated too).
    """
    from dedup.evaluate import evaluate as run_evaluation

    settings = Settings(workers=workers).with_env()
    result = run_evaluation(out, seeds=seeds, patients=patients, ct_slices=ct_slices,
                            tools=third_party, population_studies=population,
                            population_patients=population_patients, settings=settings,
                            progress=lambda line: log.info("eval: %s", line))
    if fmt is Format.JSON:
        emit_json(result.as_dict())
    elif fmt is Format.CSV:
        emit_rows([{"kind": kind, **m} for kind, m in result.metrics().items()], fmt)
    else:
        typer.echo(result.markdown())
        missed = result.missed_targets()
        typer.echo("\ntargets: " + ("all met" if not missed else "missed: " + "; ".join(missed)))
    if check and result.missed_targets():
        raise typer.Exit(ExitCode.ERROR)
