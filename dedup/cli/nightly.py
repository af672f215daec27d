"""``dedup nightly``: the unattended batch for cron and systemd timers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from dedup.batch.nightly import nightly as run_nightly
from dedup.cli.index import FormatOption
from dedup.cli.output import Format, emit_json, log, progress_reporter
from dedup.config.file import load_config
from dedup.errors import UsageError


def nightly(
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", envvar="DEDUP_CONFIG",
        help="TOML configuration file (example: deploy/dedup.toml).")] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Pull PACS sources, index every configured source, match, publish and write a report.

    The report goes to <archive>.nightly.json (history in .nightly.jsonl).
    One summary line goes to stdout (the whole report with --format json).

    Exit codes:
      0   ok
      1   partial: a source unreachable or PACS instances waiting for retry
          (strict_sources), or inputs quarantined (fail_on_quarantine)
      2   configuration error; nothing was done
      3   the archive cannot be opened
      4   nothing could be done (every source unreachable, or nothing indexable)
      70  internal error (see the traceback)
      74  disk full or I/O error; the archive keeps its last committed batch
      75  another run holds the lock; nothing was done, retry later
    """
    if config is None:
        raise UsageError("no configuration file: pass --config FILE or set DEDUP_CONFIG "
                         "(deploy/dedup.toml is an example)")
    settings = load_config(config)
    with progress_reporter("indexing") as progress:
        report = run_nightly(settings, progress)
    if fmt is Format.JSON:
        emit_json(report.as_dict())
        log.info("%s", report.line())
    else:
        typer.echo(report.line())
    if report.error:
        print(f"dedup: error: {report.error}", file=sys.stderr)
    raise typer.Exit(report.exit_code)
