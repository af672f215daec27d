"""The ``dedup`` command: registers one module per command and reports errors plainly."""

from __future__ import annotations

import sys
import traceback

import typer

from dedup import __version__
from dedup.cli import (
    check,
    dashboard,
    demo,
    evaluate,
    index,
    listen,
    match,
    nightly,
    quarantine,
    serve,
)
from dedup.cli.command import Command, Group
from dedup.cli.output import setup_logging
from dedup.errors import DedupError, ExitCode
from dedup.printable import printable

app = typer.Typer(
    name="dedup",
    help="Find duplicate and repeat medical imaging studies before they cost money and dose.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Group,
)
app.command(cls=Command)(index.index)
app.command(cls=Command)(quarantine.quarantine)
app.command(cls=Command)(nightly.nightly)
app.command(cls=Command)(match.match)
app.command(cls=Command)(match.duplicates)
app.command(name="eval", cls=Command)(evaluate.evaluate)
app.command(cls=Command)(demo.synth)
app.command(cls=Command)(demo.demo)
app.command(cls=Command)(dashboard.dashboard)
app.command(cls=Command)(check.check)
app.command(cls=Command)(serve.serve)
app.command(cls=Command)(listen.listen)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dedup {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Find duplicate and repeat medical imaging studies before they cost money and dose."""


def main() -> None:
    """Entry point: run the app; a DedupError becomes one line on stderr and its exit code."""
    setup_logging()
    try:
        app()
    except DedupError as exc:
        print(f"dedup: error: {printable(exc, lines=True)}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except Exception:  # a bug: the traceback and the exit code the table gives it
        traceback.print_exc()
        print("dedup: internal error (a bug); please report it with the traceback above",
              file=sys.stderr)
        sys.exit(ExitCode.SOFTWARE)
