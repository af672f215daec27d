"""The one door to DuckDB: connecting, the batch lock, transactions and named SQL.

Other modules hand this module SQL (a file name under ``sql/`` or a string from a ``*_sql``
function) plus parameters and get polars frames back.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from dedup.archive.schema import pending_migrations
from dedup.errors import ArchiveError, ArchiveLocked
from dedup.private import FILE_MODE, owner_only, private_folder


def beside(archive_path: str | Path, suffix: str) -> Path:
    """Return the path of a file that belongs to an archive and lives next to it.

    ``beside("a.duckdb", ".spool")`` is ``a.spool``: snapshots, spool, check log and reports
    all follow this one rule.
    """
    path = Path(archive_path)
    return path.with_name(path.name.removesuffix(".duckdb") + suffix)


@cache
def named_sql(name: str) -> str:
    """Return the text of ``dedup/archive/sql/<name>.sql``."""
    return resources.files("dedup.archive").joinpath("sql", f"{name}.sql").read_text()


def require_existing(path: str | Path) -> None:
    """Refuse a path where no archive is (a mistyped ``--archive`` must not make one).

    Raises:
        ArchiveError: nothing is at ``path``.

    """
    if not Path(path).exists():
        raise ArchiveError(f"archive {str(path)!r} does not exist; make it with `dedup index "
                           f"--archive {path} FOLDER`")


class Archive:
    """A DuckDB archive connection. Use :meth:`open` (reader) or :func:`batch_lock` (writer)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str) -> None:
        self.con = con
        self.path = path
        self._private = ExitStack()

    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False, create: bool = True) -> Archive:
        """Open (and for writers, create unless ``create`` is false, and migrate) ``path``.

        A writer's files (the database, its ``.wal`` and spill folder, which DuckDB makes
        itself) are created owner-only while it is open (:func:`dedup.private.owner_only`).

        Raises:
            ArchiveLocked: another process holds the file.
            ArchiveError: the file is missing (read-only, or not to be created) or not a DuckDB
                database.

        """
        path = str(path)
        if read_only or not create:
            require_existing(path)
        private = ExitStack()
        if not read_only:
            private.enter_context(owner_only())
        with private:
            archive = cls(cls._connect(path, read_only), path)
            archive._private = private.pop_all()
        if not read_only:
            try:
                archive.migrate()
            except BaseException:
                archive.close()
                raise
        return archive

    @staticmethod
    def _connect(path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(path, read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise ArchiveLocked(f"archive {path!r} is in use by another process; "
                                    "wait for the batch to finish or read the published "
                                    "snapshot") from None
            raise ArchiveError(f"cannot open archive {path!r}: {exc}") from None
        except duckdb.Error as exc:
            raise ArchiveError(f"{path!r} is not a DuckDB archive: {exc}") from None

    def schema_version(self) -> int:
        """The archive's schema version (0 for an empty database)."""
        if not self.value("schema_version_table"):
            return 0
        return int(self.value("schema_version"))

    def migrate(self) -> int:
        """Bring the archive to the newest schema, each migration in its own transaction.

        Returns:
            The schema version after migrating.

        Raises:
            ArchiveError: the archive was written by a newer dedup.

        """
        version = self.schema_version()
        for number, name in pending_migrations(version):
            with self.transaction():
                self.script(name)
                self.run("schema_version_insert", [number, name])
            version = number
        return version

    def cursor(self) -> Archive:
        """Another connection to the same database, for use from another thread."""
        return Archive(self.con.cursor(), self.path)

    def close(self) -> None:
        """Close the connection (checkpointing the write-ahead log)."""
        try:
            self.con.close()
        finally:
            self._private.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """Run one statement and return its rows as a polars frame."""
        relation = self.con.sql(sql, params=params)
        return pl.DataFrame() if relation is None else relation.pl()

    def execute(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> None:
        """Run one statement for its effect."""
        self.con.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> Any:
        """Run one statement and return the first column of its first row (or None)."""
        rows = self.con.execute(sql, params).fetchall()
        return rows[0][0] if rows else None

    def run(self, name: str, params: list[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """Run the named query file and return its rows."""
        return self.query(named_sql(name), params)

    def value(self, name: str, params: list[Any] | dict[str, Any] | None = None) -> Any:
        """Run the named query file and return the first column of its first row (or None)."""
        return self.scalar(named_sql(name), params)

    def script(self, name: str) -> None:
        """Run every statement of a named SQL file (DDL, batch steps over registered frames)."""
        for statement in _statements(named_sql(name)):
            self.con.execute(statement).fetchall()

    def register(self, name: str, frame: pl.DataFrame) -> None:
        """Expose a polars frame to SQL as the view ``name``."""
        self.con.register(name, frame.to_arrow())

    def unregister(self, name: str) -> None:
        """Drop a view made by :meth:`register`."""
        self.con.unregister(name)

    @contextmanager
    def registered(self, **frames: pl.DataFrame) -> Iterator[Archive]:
        """Expose each frame to SQL as a view named for its keyword, for the block only."""
        try:
            for name, frame in frames.items():
                self.register(name, frame)
            yield self
        finally:
            for name in frames:
                self.unregister(name)

    @contextmanager
    def transaction(self) -> Iterator[Archive]:
        """All statements inside commit together or not at all."""
        self.con.begin()
        try:
            yield self
        except BaseException:
            self.con.rollback()
            raise
        self.con.commit()

    def checkpoint(self) -> None:
        """Write the write-ahead log into the database file (before copying the file)."""
        self.con.checkpoint()


def _statements(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


@contextmanager
def batch_lock(archive_path: str | Path) -> Iterator[None]:
    """Hold the archive's batch lock (``<archive>.lock``) for the duration.

    The lock is an ``flock``, so the kernel releases it when the holder dies, even by
    ``kill -9``: a crashed run never blocks the next one.

    Raises:
        ArchiveLocked: another batch run holds it.

    """
    lock_path = f"{archive_path}.lock"
    private_folder(Path(lock_path).parent)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise ArchiveLocked(f"another batch run (pid {holder}) is writing {archive_path!s}; "
                            "this run did nothing and can be retried later") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    try:
        yield
    finally:
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
