"""The published snapshot the metrics read: where it is, whether it can be shown, opening it.

The dashboard and the notebook read the read-only copy each batch publishes when it finishes
(:func:`dedup.archive.publish.published_path`), never the live archive, so they neither wait
on nor block the nightly batch. :func:`status` says what can be shown, with a message that
says what to do when the answer is "nothing yet".
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dedup.archive.db import Archive
from dedup.archive.publish import published_path
from dedup.config import Settings
from dedup.config.file import load_config
from dedup.errors import ArchiveError, ArchiveLocked

__all__ = ["ArchiveStatus", "load_settings", "missing_tables", "published", "status"]

_ARCHIVE_TABLES = ("studies", "duplicates", "runs")


@dataclass(frozen=True, slots=True)
class ArchiveStatus:
    """Whether the published snapshot can be shown: ready, empty, missing, locked or error."""

    state: str
    message: str
    path: str
    summary: dict[str, Any] = field(default_factory=dict)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Settings from ``DEDUP_CONFIG`` (a TOML file) when set, else defaults + environment.

    Raises:
        UsageError: the configuration file is invalid.

    """
    env = dict(os.environ if environ is None else environ)
    if env.get("DEDUP_CONFIG"):
        return load_config(env["DEDUP_CONFIG"], env).settings
    return Settings().with_env(env)


@contextmanager
def published(archive_path: str | Path) -> Iterator[Archive]:
    """Open the latest published snapshot of ``archive_path`` read-only for one unit of work.

    A connection per unit of work (not one shared :class:`PublishedReader` connection) keeps
    concurrent dashboard sessions apart, and each picks up the newest generation.

    Raises:
        ArchiveError: nothing has been published for this archive.
        ArchiveLocked: another process holds the snapshot open for writing.

    """
    target = os.path.realpath(published_path(archive_path))
    if not os.path.exists(target):
        raise ArchiveError(_unpublished_message(Path(archive_path)))
    archive = Archive.open(target, read_only=True)
    try:
        yield archive
    finally:
        archive.close()


def status(archive_path: str | Path) -> ArchiveStatus:
    """What the dashboard can show for ``archive_path``, with a message that says what to do."""
    path = str(archive_path)
    try:
        with published(path) as archive:
            if missing_tables(archive, _ARCHIVE_TABLES):
                return ArchiveStatus("error", f"{path!r} is not a dedup archive", path)
            summary = archive.run("metric_archive_summary").row(0, named=True)
    except ArchiveLocked as exc:
        return ArchiveStatus("locked", f"{exc}. The dashboard only reads the published "
                             "snapshot; close the program that holds it and reload.", path)
    except ArchiveError as exc:
        state = "missing" if not Path(path).exists() else "error"
        return ArchiveStatus(state, str(exc), path)
    if not summary["studies"]:
        return ArchiveStatus("empty", _EMPTY_MESSAGE.format(path=path), path, summary)
    return ArchiveStatus("ready", "", path, summary)


def missing_tables(archive: Archive, names: tuple[str, ...]) -> list[str]:
    """Which of the tables ``names`` the open archive lacks (an older or foreign file)."""
    found = set(archive.run("metric_tables")["table_name"].to_list())
    return [name for name in names if name not in found]


_EMPTY_MESSAGE = (
    "The archive {path!r} has no studies yet, so there is nothing to count. Run the first "
    "batch: `dedup index /path/to/dicom --archive {path}` (or `dedup nightly --config FILE` "
    "from cron); the dashboard shows the snapshot it publishes when it finishes. To look "
    "around with generated data: `dedup demo --out demo`, then "
    "`dedup dashboard --archive demo/archive.duckdb`.")


def _unpublished_message(path: Path) -> str:
    if not path.exists():
        return (f"no archive at {str(path)!r}. Run the first batch (`dedup index PATH "
                f"--archive {path}` or `dedup nightly`), or try `dedup demo --out demo` and "
                "`dedup dashboard --archive demo/archive.duckdb`")
    return (f"the archive {str(path)!r} has no published snapshot yet. The dashboard reads "
            "the read-only copy each batch publishes when it finishes, so it never waits on "
            "the batch: let the running batch finish, or run `dedup index` / `dedup nightly` "
            "with `publish` on")
