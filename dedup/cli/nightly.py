"""``dedup nightly``: the unattended batch for cron and systemd timers."""

from __future__ import annotations

import inspect
import sys
import textwrap
from pathlib import Path
from typing import Annotated

import typer

from dedup.cli.options import SummaryFormatOption, config_option
from dedup.cli.output import SummaryFormat, emit_json, log, progress_reporter
from dedup.config.file import load_config
from dedup.errors import ExitCode, UsageError
from dedup.printable import printable


def nightly(
    config: Annotated[Path | None, config_option(
        "TOML configuration file (example: deploy/dedup.toml).")] = None,
    fmt: SummaryFormatOption = SummaryFormat.TABLE,
) -> None:
    """Pull PACS sources, index every configured source, match, publish and write a report.

    The report goes to <archive>.nightly.json (history in .nightly.jsonl).
    One summary line goes to stdout (the whole report with --format json).
    """
    if config is None:
        raise UsageError("no configuration file: pass --config FILE or set DEDUP_CONFIG "
                         "(deploy/dedup.toml is an example)")
    from dedup.batch.nightly import nightly as run_nightly

    settings = load_config(config)
    with progress_reporter("indexing") as progress:
        report = run_nightly(settings, progress)
    if fmt is SummaryFormat.JSON:
        emit_json(report.as_dict())
        log.info("%s", report.line())
    else:
        typer.echo(printable(report.line()))
    if report.error:
        print(f"dedup: error: {printable(report.error, lines=True)}", file=sys.stderr)
    raise typer.Exit(report.exit_code)


def _exit_codes() -> str:
    """The exit-code table of :class:`ExitCode` as help text, one wrapped entry per code."""
    return "\n".join(
        textwrap.fill(code.__doc__ or "", width=76, initial_indent=f"  {code:<4d}",
                      subsequent_indent=" " * 6)
        for code in ExitCode)


# `dedup nightly --help` shows the exit codes from their one table, dedup.errors.ExitCode
nightly.__doc__ = f"{inspect.getdoc(nightly) or ''}\n\nExit codes:\n{_exit_codes()}"
