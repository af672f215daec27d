"""The ``runs`` table: each batch run opened, counted and closed, and the settings it needs.

A run is recorded as ``running`` when it starts; a run a crash left ``running`` is marked
``interrupted`` when the next one starts. Each committed batch adds to the run's counters
(:func:`dedup.archive.writer.commit_batch`), and the run is closed with its final status and
distinct study and series counts. The signature parameters an archive was built with are
stored once and checked by every later run, because signatures made with other parameters
cannot be compared.
"""

from __future__ import annotations

import platform
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from dedup import __version__
from dedup.archive.db import Archive
from dedup.archive.writer import BatchCounts
from dedup.config import Settings
from dedup.errors import UsageError
from dedup.records import RunSummary


def check_signature_settings(archive: Archive, settings: Settings) -> None:
    """Store the signature parameters in a new archive, or check them against an old one.

    Raises:
        UsageError: the archive was built with another ``num_perm`` or ``lsh_bands``.

    """
    wanted = {"num_perm": str(settings.num_perm), "lsh_bands": str(settings.lsh_bands)}
    stored = dict(archive.run("archive_settings").iter_rows())
    for name, value in wanted.items():
        if name in stored and stored[name] != value:
            raise UsageError(f"this archive was built with {name}={stored[name]}, not {value}; "
                             f"use {name}={stored[name]} or a new archive")
    if not stored:
        with archive.transaction():
            for name, value in wanted.items():
                archive.run("archive_setting_insert", [name, value])


@contextmanager
def recorded_run(archive: Archive, command: str, totals: RunTotals) -> Iterator[int]:
    """Record a run around the block and yield its id.

    The run is closed ``ok`` when the block ends, ``interrupted`` on Ctrl-C and ``failed``
    on any other exception (which propagates), with the counts in ``totals``.
    """
    run_id = start_run(archive, command)
    status = "failed"
    try:
        yield run_id
        status = "ok"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        finish_run(archive, run_id, status, totals)


def start_run(archive: Archive, command: str) -> int:
    """Record a new run (closing runs a crash left 'running') and return its id."""
    with archive.transaction():
        archive.run("runs_interrupted")
        return int(archive.value("run_start", [command, __version__, platform.node()]))


def finish_run(archive: Archive, run_id: int, status: str, totals: RunTotals) -> None:
    """Close a run with its final status and distinct study/series counts."""
    archive.run("run_finish", [status, len(totals.studies), len(totals.series), run_id])


class RunTotals:
    """A run's running totals, added up batch by batch as the batches are committed."""

    def __init__(self) -> None:
        self.inputs = self.instances = self.bytes = self.recognised = 0
        self.skipped = self.quarantined = self.conflicts = 0
        self.studies: set[str] = set()
        self.series: set[str] = set()
        self.reasons: dict[str, int] = defaultdict(int)
        self.duplicates: dict[str, int] = {}

    def add(self, counts: BatchCounts, skipped: int) -> None:
        """Add one committed batch and the inputs skipped with it."""
        self.inputs += counts.instances + counts.recognised + counts.quarantined + skipped
        self.instances += counts.instances
        self.bytes += counts.bytes
        self.recognised += counts.recognised
        self.quarantined += counts.quarantined
        self.conflicts += counts.conflicts
        self.skipped += skipped
        self.studies |= counts.studies
        self.series |= counts.series
        for reason, n in counts.reasons.items():
            self.reasons[reason] += n

    def summary(self, run_id: int, status: str, seconds: float) -> RunSummary:
        """The run's summary, as returned by :func:`dedup.batch.index`."""
        return RunSummary(run_id=run_id, status=status, studies=len(self.studies),
                          series=len(self.series), instances=self.instances,
                          skipped=self.skipped, recognised=self.recognised,
                          quarantined=self.quarantined, bytes=self.bytes, files=self.inputs,
                          seconds=round(seconds, 3), quarantine_reasons=dict(self.reasons),
                          duplicates=dict(self.duplicates), conflicts=self.conflicts)
