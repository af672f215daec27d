"""``dedup synth`` and ``dedup demo``: the generated corpus, and the main job run on it."""

from __future__ import annotations

import shlex
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from dedup.cli.index import print_summary
from dedup.cli.options import CtSlicesOption, PatientsOption, SummaryFormatOption, WorkersOption
from dedup.cli.output import SummaryFormat, emit_json, progress_reporter
from dedup.config import Settings

#: A pre-order check that finds a prior in the demo (a CT HEAD 23 days before the demo was
#: made, of a patient archived as ``Weiß^Marta^Anne``); the README shows it, a test runs it.
EXAMPLE_CHECK = ("--name", "WEISS^MARTA", "--birth-date", "1996-12-13", "--sex", "F",
                 "--procedure", "CT HEAD")


def synth(
    out: Annotated[Path, typer.Option(help="Folder to write archive/ and incoming/ into.")],
    patients: PatientsOption = 6,
    ct_slices: CtSlicesOption = 20,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes.")] = 0,
    fmt: SummaryFormatOption = SummaryFormat.TABLE,
) -> None:
    """Write a synthetic corpus with injected duplicates of every kind (plus labels.json)."""
    from dedup.synth import make_corpus, write_labels

    corpus = make_corpus(out, patients=patients, seed=seed, ct_slices=ct_slices)
    write_labels(corpus, out / "labels.json")
    info = {"archive_dir": str(corpus.archive_dir), "incoming_dir": str(corpus.incoming_dir),
            "files": corpus.files, "bytes": corpus.bytes, "labels": len(corpus.labels)}
    if fmt is SummaryFormat.JSON:
        emit_json(info)
    else:
        for key, value in info.items():
            typer.echo(f"{key:>12}  {value}")


def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo corpus and archive.")] = Path(
        "demo"),
    workers: WorkersOption = 0,
    ct_slices: CtSlicesOption = 20,
    fmt: SummaryFormatOption = SummaryFormat.TABLE,
) -> None:
    """Generate a sample archive and tonight's batch, index both, print the summaries.

    Study dates end today, so a pre-order check finds priors in today's look-back windows.
    """
    from dedup.batch.pipeline import index as run_index
    from dedup.synth import make_corpus, write_labels
    from dedup.synth.checks import add_demo_checks

    corpus = make_corpus(out / "corpus", patients=6, seed=0, ct_slices=ct_slices,
                         today=date.today())
    write_labels(corpus, out / "corpus" / "labels.json")
    archive = out / "archive.duckdb"
    archive.unlink(missing_ok=True)
    settings = Settings(archive=str(archive), workers=workers).with_env()
    results = {}
    parts = {"archive": corpus.archive_dir, "incoming": corpus.incoming_dir}
    for name, path in parts.items():
        with progress_reporter(f"indexing {name}") as progress:
            results[name] = run_index([path], settings, progress)
    add_demo_checks(archive)  # checks and outcomes, so the dashboard has avoided repeats
    if fmt is SummaryFormat.JSON:
        emit_json({name: s.as_dict() for name, s in results.items()} | {"archive": str(archive)})
        return
    for name, summary in results.items():
        typer.echo(f"\n== {name}: {parts[name]}")
        print_summary(summary, str(archive))
    where = shlex.quote(str(archive))
    typer.echo(f"\narchive: {archive}  (open it with duckdb, or run `dedup --help`)\n"
               f"next:    dedup duplicates --archive {where}\n"
               f"         dedup check --archive {where} {shlex.join(EXAMPLE_CHECK)}\n"
               f"         dedup dashboard --archive {where}")

