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
from rich.text import Text

from dedup.printable import PrintableRecords, printable

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
    """Plain timestamped lines on stderr (what cron mails and journald keeps).

    Every message is escaped (:class:`dedup.printable.PrintableRecords`): a file name or URL
    path cannot forge a line or send the terminal escape codes.
    """
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, PrintableRecords) for f in handler.filters):
            handler.addFilter(PrintableRecords())
    log.setLevel(logging.INFO)


def emit_json(data: Any) -> None:
    """Print one JSON document on stdout."""
    print(json.dumps(data, default=str, sort_keys=False))


def emit_rows(rows: Sequence[Mapping[str, Any]], fmt: Format, title: str = "") -> None:
    """Print rows as a table, CSV or a JSON array.

    Values can come from outside (file names, header values): a table shows them escaped
    (:func:`dedup.printable.printable`) and never as Rich markup; CSV escapes them only on a
    terminal (a file or pipe gets the exact values); JSON escapes control characters anyway.
    """
    if fmt is Format.JSON:
        emit_json(list(rows))
        return
    columns = list(rows[0]) if rows else []
    if fmt is Format.CSV:
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=columns)
        writer.writeheader()
        shown = sys.stdout.isatty()
        writer.writerows({c: printable(v) if shown and isinstance(v, str) else v
                          for c, v in row.items()} for row in rows)
        return
    table = Table(title=title or None)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(cell(row[c]) for c in columns))
    Console().print(table)


def cell(value: object) -> Text:
    """A table cell of a value from outside: escaped, and never read as Rich markup."""
    return Text("" if value is None else printable(value))


#: Seconds between two progress lines when stderr is no terminal (cron mail, journald).
PROGRESS_LINE_SECONDS = 60.0


@contextmanager
def progress_reporter(label: str, *, every: float = PROGRESS_LINE_SECONDS) -> Iterator[Any]:
    """Yield a ``(inputs, bytes read)`` callback, called after every input.

    On a terminal it moves a progress bar; otherwise it writes a plain line to stderr at most
    once per ``every`` seconds (and none for a run shorter than that).
    """
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
        if now - last[0] >= every:
            last[0] = now
            log.info("%s: %d inputs, %.0f MB read", label, done, nbytes / 1e6)

    yield report
