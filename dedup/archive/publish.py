"""Publish a read-only snapshot of the archive for online readers.

DuckDB lets one process write a database file and nobody else open it meanwhile, so the
check service and the dashboard never read the live archive. After each batch the writer
checkpoints and copies the file to ``<archive>.published.duckdb`` through a temporary name
and an atomic rename. Readers holding the old snapshot keep reading it (the old inode stays
valid); :class:`PublishedReader` reopens when a newer snapshot appears, so readers pick up
new data without a restart and never wait on the writer's lock.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

from dedup.archive.db import Archive
from dedup.errors import ArchiveError


def published_path(archive_path: str | Path) -> Path:
    """Where the snapshot of ``archive_path`` is published."""
    path = Path(archive_path)
    return path.with_name(path.name.removesuffix(".duckdb") + ".published.duckdb")


def publish(archive: Archive) -> Path:
    """Checkpoint the (locked, writable) archive and publish a snapshot atomically.

    Returns:
        The snapshot's path.
    """
    archive.execute("CHECKPOINT")
    target = published_path(archive.path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(archive.path, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return target


class PublishedReader:
    """A read-only connection to the latest published snapshot, reopened when it changes.

    Thread-safe: each call to :meth:`archive` checks the snapshot's identity (inode, mtime)
    and swaps the connection if a new one was published.
    """

    def __init__(self, archive_path: str | Path) -> None:
        self.path = published_path(archive_path)
        self._lock = threading.Lock()
        self._identity: tuple[int, int] | None = None
        self._archive: Archive | None = None

    def archive(self) -> Archive:
        """The current snapshot, opened read-only.

        Raises:
            ArchiveError: nothing has been published yet.
        """
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise ArchiveError(f"no published archive at {str(self.path)!r} yet; run "
                               "`dedup index` (it publishes when it finishes)") from None
        identity = (stat.st_ino, stat.st_mtime_ns)
        with self._lock:
            if identity != self._identity or self._archive is None:
                old = self._archive
                self._archive = Archive.open(self.path, read_only=True)
                self._identity = identity
                if old is not None:
                    old.close()
            return self._archive

    def close(self) -> None:
        """Close the current connection."""
        with self._lock:
            if self._archive is not None:
                self._archive.close()
                self._archive = None
