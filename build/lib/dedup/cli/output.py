"""Output helpers shared by commands: formats, progress and plain log lines."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

log = logging.getLogger("dedup")


class Format(StrEnum):
    """Output formats of commands that list rows; ``json`` is for machines and stable."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


class SummaryFormat(StrEnum):
    """Output formats of commands that report one result (a summary, an answer)."""

    TABLE = "table"
    JSON = "json"


def setup_logging() -> None:
    """Plain timestamped lines on stderr (what cron mails and journald keeps)."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)


def emit_json(data: Any) -> None:
    """Print one JSON document on stdout."""
    print(json.dumps(data, default=str, sort_keys=False))


def emit_rows(rows: Sequence[Mapping[str, Any]], fmt: Format, title: str = "") -> None:
    """Print rows as a table, CSV or a JSON array."""
    if fmt is Format.JSON:
        emit_json(list(rows))
        return
    columns = list(rows[0]) if rows else []
    if fmt is Format.CSV:
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        return
    table = Table(title=title or None)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    Console().print(table)


@contextmanager
def progress_reporter(label: str) -> Iterator[Any]:
    """Yield a ``(done, bytes)`` callback: a progress bar on a terminal, else log lines."""
    if sys.stderr.isatty():
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                      TextColumn("{task.completed} files {task.fields[mb]:.0f} MB"),
                      TimeElapsedColumn(), console=Console(stderr=True),
                      transient=True) as bar:
            task = bar.add_task(label, total=None, mb=0.0)
            yield lambda done, nbytes: bar.update(task, completed=done, mb=nbytes / 1e6)
        return
    last = [time.monotonic()]

    def report(done: int, nbytes: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 10:
            last[0] = now
            log.info("%s: %d inputs, %.0f MB of new instances", label, done, nbytes / 1e6)

    yield report
