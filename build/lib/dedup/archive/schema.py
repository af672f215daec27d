"""Schema migrations: which ``sql/NNNN_*.sql`` files exist and which an archive still needs.

Pure discovery only: :meth:`dedup.archive.db.Archive.migrate` applies the migrations, each in
its own transaction, and records them in ``schema_version``.
"""

from __future__ import annotations

from importlib import resources

from dedup.errors import ArchiveError


def migrations() -> list[tuple[int, str]]:
    """Return (version, name) of every migration shipped, in order."""
    files = resources.files("dedup.archive").joinpath("sql").iterdir()
    names = sorted(f.name[:-4] for f in files if f.name[:4].isdigit() and f.name.endswith(".sql"))
    return [(int(name[:4]), name) for name in names]


def pending_migrations(version: int) -> list[tuple[int, str]]:
    """The migrations an archive at schema ``version`` still needs, in order.

    Raises:
        ArchiveError: the archive was written by a newer dedup.

    """
    shipped = migrations()
    newest = shipped[-1][0]
    if version > newest:
        raise ArchiveError(f"archive schema version {version} is newer than this dedup "
                           f"({newest}); upgrade dedup")
    return [(number, name) for number, name in shipped if number > version]
