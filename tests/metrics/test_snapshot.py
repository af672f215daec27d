"""dedup.metrics.snapshot: what the dashboard can show for missing, empty and locked archives."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from dedup import metrics
from dedup.archive.db import Archive
from dedup.archive.publish import publish, published_path
from dedup.errors import ArchiveError, UsageError
from dedup.metrics.snapshot import missing_tables


def test_empty_missing_and_unpublished_archives(tmp_path: Path) -> None:
    missing = metrics.status(tmp_path / "nope.duckdb")
    assert missing.state == "missing" and "dedup index" in missing.message
    path = tmp_path / "archive.duckdb"
    Archive.open(path).close()
    unpublished = metrics.status(path)
    assert unpublished.state == "error" and "no published snapshot" in unpublished.message
    with Archive.open(path) as archive:
        publish(archive)
    empty = metrics.status(path)
    assert empty.state == "empty" and "dedup index" in empty.message
    assert "dedup demo" in empty.message


def test_ready_archive_has_a_summary(built: Path) -> None:
    ready = metrics.status(built)
    assert (ready.state, ready.message, ready.path) == ("ready", "", str(built))
    assert (ready.summary["studies"], ready.summary["duplicates"], ready.summary["runs"]) == (
        6, 5, 1)


def test_published_refuses_an_unpublished_archive(tmp_path: Path) -> None:
    path = tmp_path / "archive.duckdb"
    Archive.open(path).close()
    with pytest.raises(ArchiveError, match="no published snapshot yet"), \
            metrics.published(path):
        pass


def test_missing_tables_names_what_a_foreign_file_lacks(built: Path) -> None:
    with metrics.published(built) as archive:
        assert missing_tables(archive, ("studies", "checks", "nothing_here")) == ["nothing_here"]


def test_locked_snapshot_is_reported(built: Path) -> None:
    target = published_path(built).resolve()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(60)", str(target)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        status = metrics.status(built)
        assert status.state == "locked" and "in use by another process" in status.message
    finally:
        holder.kill()
        holder.wait()
    deadline = time.monotonic() + 10
    while metrics.status(built).state != "ready" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert metrics.status(built).state == "ready"


def test_settings_come_from_the_config_file_or_the_environment(tmp_path: Path) -> None:
    assert metrics.load_settings({"DEDUP_ARCHIVE": "x.duckdb"}).archive == "x.duckdb"
    config = tmp_path / "dedup.toml"
    sources = f'\n[[sources]]\nname = "incoming"\ntype = "folder"\npath = "{tmp_path}"\n'
    archive = tmp_path / "from-file.duckdb"
    config.write_text(f'archive = "{archive}"\n{sources}')
    assert metrics.load_settings({"DEDUP_CONFIG": str(config)}).archive == str(archive)
    config.write_text(f'archive = "{tmp_path}"\n{sources}')
    with pytest.raises(UsageError, match="is a folder"):
        metrics.load_settings({"DEDUP_CONFIG": str(config)})
