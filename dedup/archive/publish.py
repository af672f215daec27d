"""Publish a read-only snapshot of the archive for online readers.

DuckDB lets one process write a database file and nobody else open it meanwhile, so the
check service and the dashboard never read the live archive. After each batch the writer
checkpoints, copies the file to a new generation under ``<archive>.snapshots/`` and
atomically repoints the symbolic link ``<archive>.published.duckdb`` at it (the folder is
700 and each generation 600: snapshots hold patient data). Readers holding
an old generation keep reading it (unlinked files stay valid while open);
:class:`PublishedReader` reopens when the link points elsewhere, so readers pick up new data
without a restart and never wait on the writer's lock. Each generation has its own path, so
DuckDB's per-path instance cache never hands a reader a stale database.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

from dedup.archive.db import Archive, beside
from dedup.errors import ArchiveError
from dedup.private import create_private, private_folder


def published_path(archive_path: str | Path) -> Path:
    """Where the snapshot of ``archive_path`` is published."""
    return beside(archive_path, ".published.duckdb")


def publish(archive: Archive, keep: int = 3) -> Path:
    """Checkpoint the (locked, writable) archive and publish a snapshot atomically.

    Args:
        archive: the writer's connection.
        keep: generations kept on disk (older ones are removed; open readers are unaffected).

    Returns:
        The published link's path.

    """
    archive.checkpoint()
    link = published_path(archive.path)
    folder = private_folder(link.with_name(Path(archive.path).name + ".snapshots"))
    generation = folder / f"{time.time_ns()}.duckdb"
    tmp = generation.with_suffix(".tmp")
    try:
        create_private(tmp)  # copyfile keeps the mode of a file it overwrites: 600
        shutil.copyfile(archive.path, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, generation)
    except BaseException:
        tmp.unlink(missing_ok=True)  # e.g. disk full: leave no half snapshot behind
        raise
    tmp_link = link.with_name(f".{link.name}.{os.getpid()}")
    tmp_link.unlink(missing_ok=True)
    tmp_link.symlink_to(os.path.relpath(generation, link.parent))
    os.replace(tmp_link, link)
    for old in sorted(folder.glob("*.duckdb"))[:-keep]:
        old.unlink(missing_ok=True)
    return link


class PublishedReader:
    """A read-only connection to the latest published snapshot, reopened when it changes.

    Thread-safe: each call to :meth:`archive` resolves the link and swaps the connection if
    a new generation was published.
    """

    def __init__(self, archive_path: str | Path) -> None:
        self.path = published_path(archive_path)
        self._lock = threading.Lock()
        self._target: str | None = None
        self._archive: Archive | None = None

    def archive(self) -> Archive:
        """The current snapshot, opened read-only.

        Raises:
            ArchiveError: nothing has been published yet.

        """
        target = os.path.realpath(self.path)
        if not os.path.exists(target):
            raise ArchiveError(f"no published archive at {str(self.path)!r} yet; run "
                               "`dedup index` (it publishes when it finishes)")
        with self._lock:
            if target != self._target or self._archive is None:
                old = self._archive
                self._archive = Archive.open(target, read_only=True)
                self._target = target
                if old is not None:
                    old.close()
            return self._archive

    def close(self) -> None:
        """Close the current connection."""
        with self._lock:
            if self._archive is not None:
                self._archive.close()
                self._archive = None
