"""Schema migrations: ``sql/NNNN_*.sql`` files applied in order, recorded in schema_version."""

from __future__ import annotations

from importlib import resources

from dedup.archive.db import Archive
from dedup.errors import ArchiveError


def migrations() -> list[tuple[int, str]]:
    """Return (version, name) of every migration shipped, in order."""
    files = resources.files("dedup.archive").joinpath("sql").iterdir()
    names = sorted(f.name[:-4] for f in files if f.name[:4].isdigit() and f.name.endswith(".sql"))
    return [(int(name[:4]), name) for name in names]


def current_version(archive: Archive) -> int:
    """The archive's schema version (0 for an empty database)."""
    exists = archive.scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'")
    if not exists:
        return 0
    return int(archive.scalar("SELECT coalesce(max(version), 0) FROM schema_version"))


def migrate(archive: Archive) -> int:
    """Bring the archive to the newest schema, each migration in its own transaction.

    Returns:
        The schema version after migrating.

    Raises:
        ArchiveError: the archive was written by a newer dedup.

    """
    shipped = migrations()
    version = current_version(archive)
    newest = shipped[-1][0]
    if version > newest:
        raise ArchiveError(f"archive schema version {version} is newer than this dedup "
                           f"({newest}); upgrade dedup")
    for number, name in shipped:
        if number <= version:
            continue
        with archive.transaction():
            if number == 1:
                archive.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
                                "name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)")
            archive.script(name)
            archive.execute("INSERT INTO schema_version VALUES (?, ?, now())", [number, name])
    return max(version, newest)
