from __future__ import annotations

from pathlib import Path

import pytest

from dedup.archive.db import Archive, batch_lock
from dedup.archive.schema import migrations
from dedup.errors import ArchiveError, ArchiveLocked


def test_new_archive_is_migrated_to_the_newest_schema(tmp_path: Path) -> None:
    with Archive.open(tmp_path / "a.duckdb") as archive:
        newest = migrations()[-1][0]
        assert archive.schema_version() == newest
        assert archive.migrate() == newest  # idempotent
        assert archive.scalar("SELECT count(*) FROM schema_version") == len(migrations())


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    with Archive.open(tmp_path / "a.duckdb") as archive:
        archive.execute("INSERT INTO schema_version VALUES (999, 'future', now())")
    with pytest.raises(ArchiveError, match="newer than this dedup"):
        Archive.open(tmp_path / "a.duckdb")


def test_missing_archive_for_reading(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="does not exist"):
        Archive.open(tmp_path / "none.duckdb", read_only=True)


def test_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "x.duckdb").write_text("hello")
    with pytest.raises(ArchiveError):
        Archive.open(tmp_path / "x.duckdb")


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    with Archive.open(tmp_path / "a.duckdb") as archive:
        with pytest.raises(RuntimeError), archive.transaction():
            archive.execute("INSERT INTO settings VALUES ('k', 'v')")
            raise RuntimeError("boom")
        assert archive.scalar("SELECT count(*) FROM settings") == 0


def test_batch_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    with batch_lock(path), pytest.raises(ArchiveLocked, match="another batch run"), \
            batch_lock(path):
        pass
    with batch_lock(path):  # released
        pass
