"""The batch indexer: walk sources, fingerprint in worker processes, commit in batches.

The long work (reading and hashing) runs in worker processes and never inside a
transaction; each batch of results is committed in one transaction, so ``kill -9`` at any
moment leaves the archive consistent, and the next run skips what is already committed.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from itertools import islice
from multiprocessing.context import BaseContext
from pathlib import Path

import polars as pl

from dedup.archive.db import Archive, batch_lock
from dedup.archive.publish import publish
from dedup.archive.writer import BatchCounts, commit_batch
from dedup.batch.runs import RunTotals, check_signature_settings, recorded_run
from dedup.batch.workers import worker_context
from dedup.check.log import fold_check_log
from dedup.config import Settings
from dedup.errors import NothingDone
from dedup.fingerprint.instance import (
    Packed,
    die_with,
    fingerprint_location,
    fingerprint_many,
    unpack,
)
from dedup.ingest.read import readahead
from dedup.ingest.sources import walk
from dedup.match import match
from dedup.records import Instance, Location, Quarantined, RunSummary

_TASK_FILES = 16  # locations per worker task
_SKIP_CHUNK = 1000  # locations per skip lookup

Progress = Callable[[int, int], None]  # (inputs done, bytes read)


def index(paths: Iterable[str | Path], settings: Settings,
          progress: Progress | None = None) -> RunSummary:
    """Index ``paths`` into the archive named by ``settings.archive``.

    Args:
        paths: folders, files, zip files or DICOMDIR media roots.
        settings: archive path, workers, batch size, signature parameters.
        progress: called after each input with the inputs and bytes read so far.

    Returns:
        The run summary (also stored in the ``runs`` table).

    Raises:
        ArchiveLocked: another batch run holds the archive.
        NothingDone: inputs were found but none could be indexed.

    """
    started = time.monotonic()
    context = worker_context(settings)  # its server imports while the archive opens
    loader = threading.Thread(target=_preload, name="dedup-preload", daemon=True)
    loader.start()
    with batch_lock(settings.archive), Archive.open(settings.archive) as archive:
        check_signature_settings(archive, settings)
        totals = RunTotals()
        with recorded_run(archive, "index", totals) as run_id:
            items = _stream(paths, archive.cursor(), settings, context)
            _commit_all(archive, run_id, _reported(items, progress) if progress else items,
                        settings, totals, loader)
            matched = match(archive, settings, run_id=run_id)
            totals.duplicates = {**matched.duplicates, "exact": matched.exact}
        # checks and outcomes the service logged since the last run
        fold_check_log(archive, settings.state_dir)
        if settings.publish:
            publish(archive)
        summary = totals.summary(run_id, "ok", time.monotonic() - started)
    if summary.files and not (summary.instances or summary.recognised or summary.skipped):
        raise NothingDone(f"none of {summary.files} inputs could be indexed "
                          f"({_reasons_text(summary.quarantine_reasons)}); "
                          "see `dedup quarantine`", summary.as_dict())
    return summary


def _commit_all(archive: Archive, run_id: int, items: Iterator[_Item], settings: Settings,
                totals: RunTotals, loader: threading.Thread) -> None:
    """Commit batches in a writer thread while the next batch is read and fingerprinted.

    The first commit waits for the background imports, so no module is ever imported by
    two threads at once.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="dedup-commit") as writer:
        pending: Future[tuple[BatchCounts, int]] | None = None
        for batch, skipped in _batches(items, settings):
            loader.join()
            if pending is not None:
                totals.add(*pending.result())
            pending = writer.submit(_commit, archive, run_id, batch, settings, skipped)
        if pending is not None:
            totals.add(*pending.result())
    loader.join()


def _reported(items: Iterator[_Item], progress: Progress) -> Iterator[_Item]:
    """Pass ``items`` on, calling ``progress`` with the inputs and bytes read after each."""
    read = 0
    for done, item in enumerate(items, 1):
        if item is not None:
            read += item.location.size
        progress(done, read)
        yield item


def _commit(archive: Archive, run_id: int, batch: list[Instance | Quarantined],
            settings: Settings, skipped: int) -> tuple[BatchCounts, int]:
    return commit_batch(archive, run_id, batch, settings, skipped=skipped), skipped


def _preload() -> None:
    """Import Splink, which matching needs, while workers read files."""
    with contextlib.suppress(ImportError):
        importlib.import_module("splink")


def _reasons_text(reasons: dict[str, int]) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items())) or "none"


_Item = Instance | Quarantined | None  # None marks one input skipped as unchanged


def _stream(paths: Iterable[str | Path], archive: Archive, settings: Settings,
            context: BaseContext | None) -> Iterator[_Item]:
    """Fingerprint every input not already committed, in walk order."""
    walked = walk(paths, max_file_bytes=settings.max_file_bytes)
    pending = _unskipped(walked, archive)
    if context is None:
        yield from _serial(pending, settings)
        return
    with ProcessPoolExecutor(settings.worker_count, mp_context=context, initializer=die_with,
                             initargs=(os.getpid(),)) as pool:
        yield from _parallel(pending, pool, settings)


def _serial(pending: Iterator[Location | Quarantined | None], settings: Settings
            ) -> Iterator[_Item]:
    """Fingerprint in this process, the next few files always being read ahead."""
    while chunk := list(islice(pending, _TASK_FILES)):
        readahead(c for c in chunk if isinstance(c, Location))
        for item in chunk:
            yield item if not isinstance(item, Location) else fingerprint_location(item, settings)


def _parallel(pending: Iterator[Location | Quarantined | None], pool: ProcessPoolExecutor,
              settings: Settings) -> Iterator[_Item]:
    """Run tasks of a few locations each, at most 4 per worker in flight, results in order.

    A task's files are read ahead when it is submitted, so the disk is busy with the files
    of every task in flight while the workers parse (a cold backfill is bound by reading).
    """
    in_flight: deque[Future[list[Packed]] | list[_Item]] = deque()
    limit = settings.worker_count * 4
    task: list[Location] = []
    for item in pending:
        if isinstance(item, Location):
            task.append(item)
            if len(task) < _TASK_FILES:
                continue
            in_flight.append(_submit(pool, task, settings))
            task = []
        else:
            in_flight.append([item])
        while len(in_flight) > limit:
            yield from _result(in_flight.popleft())
    if task:
        in_flight.append(_submit(pool, task, settings))
    while in_flight:
        yield from _result(in_flight.popleft())


def _submit(pool: ProcessPoolExecutor, task: list[Location], settings: Settings
            ) -> Future[list[Packed]]:
    readahead(task)
    return pool.submit(fingerprint_many, task, settings)


def _result(entry: Future[list[Packed]] | list[_Item]) -> list[_Item]:
    return entry if isinstance(entry, list) else [unpack(p) for p in entry.result()]


def _unskipped(walked: Iterator[Location | Quarantined], archive: Archive
               ) -> Iterator[Location | Quarantined | None]:
    """Replace inputs unchanged since a committed run (path, size, mtime) by ``None``."""
    while chunk := list(islice(walked, _SKIP_CHUNK)):
        locations = [c for c in chunk if isinstance(c, Location)]
        frame = pl.DataFrame({"location": [c.key for c in locations],
                              "size": [c.size for c in locations],
                              "mtime": [c.mtime for c in locations]},
                             schema={"location": pl.String, "size": pl.Int64,
                                     "mtime": pl.Float64})
        with archive.registered(walk_chunk=frame):
            known = set(archive.run("unchanged_files")["location"].to_list())
        for item in chunk:
            yield None if isinstance(item, Location) and item.key in known else item


def _batches(items: Iterator[_Item], settings: Settings
             ) -> Iterator[tuple[list[Instance | Quarantined], int]]:
    """Group results into batches of ``settings.batch_files`` (skips count, not stored)."""
    batch: list[Instance | Quarantined] = []
    skipped = 0
    for item in items:
        if item is None:
            skipped += 1
        else:
            batch.append(item)
        if len(batch) + skipped >= settings.batch_files:
            yield batch, skipped
            batch, skipped = [], 0
    if batch or skipped:
        yield batch, skipped

