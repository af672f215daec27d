"""``publish`` and ``PublishedReader``: read-only snapshots readers open while a batch writes."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from dedup.archive.db import Archive, batch_lock
from dedup.archive.publish import PublishedReader, publish, published_path
from dedup.batch import index
from dedup.config import Settings
from dedup.errors import ArchiveError


def test_published_snapshot_is_picked_up_without_restart(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    reader = PublishedReader(path)
    with pytest.raises(ArchiveError, match="no published archive"):
        reader.archive()
    with Archive.open(path) as archive:
        archive.execute("INSERT INTO settings VALUES ('generation', '1')")
        publish(archive)
        assert reader.archive().scalar("SELECT value FROM settings") == "1"
        # the writer keeps its lock on the live file; the reader is unaffected
        archive.execute("UPDATE settings SET value = '2'")
        assert reader.archive().scalar("SELECT value FROM settings") == "1"
        publish(archive)
    assert reader.archive().scalar("SELECT value FROM settings") == "2"
    assert published_path(path).exists()
    reader.close()


def _study_count(reader: PublishedReader) -> int:
    return int(reader.archive().scalar("SELECT count(*) FROM studies"))


def test_readers_see_a_read_only_snapshot_while_the_batch_writes(
        studies: Path, settings: Settings) -> None:
    first, second = sorted(p for p in studies.iterdir() if p.is_dir())
    settings = replace(settings, publish=True)
    index([first], settings)
    reader = PublishedReader(settings.archive)
    generation = os.path.realpath(published_path(settings.archive))
    with batch_lock(settings.archive), Archive.open(settings.archive) as writer:
        assert _study_count(reader) == 1
        with pytest.raises(duckdb.Error, match="read-only"):
            reader.archive().execute("DELETE FROM studies")
        writer.execute("INSERT INTO settings VALUES ('note', 'not published')")
        assert reader.archive().scalar("SELECT count(*) FROM settings WHERE name = 'note'") == 0
    index([second], settings)
    assert os.path.realpath(published_path(settings.archive)) != generation
    assert _study_count(reader) == 2
    assert Path(generation).exists()  # an older generation stays for readers holding it
    reader.close()


def test_old_generations_are_removed_beyond_keep(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    with Archive.open(path) as archive:
        links = {os.path.realpath(publish(archive, keep=2)) for _ in range(4)}
    snapshots = sorted((tmp_path / "a.duckdb.snapshots").glob("*.duckdb"))
    assert len(links) == 4 and len(snapshots) == 2
    assert os.path.realpath(published_path(path)) == str(snapshots[-1])
