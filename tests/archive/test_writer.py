"""``commit_batch``: one transaction per batch of real fingerprinted instances (dedup.synth)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dedup.archive.db import Archive
from dedup.archive.writer import commit_batch
from dedup.batch.runs import start_run
from dedup.config import Settings
from dedup.fingerprint.instance import fingerprint_location
from dedup.ingest.sources import walk
from dedup.records import Instance, Location, Quarantined

TABLES = ("patients", "studies", "series", "instances", "files", "fingerprints", "lsh_bands")


def _fingerprinted(root: Path, settings: Settings) -> list[Instance | Quarantined]:
    return [item if not isinstance(item, Location) else fingerprint_location(item, settings)
            for item in walk([root])]


def _counts(archive: Archive) -> dict[str, int]:
    return {table: len(archive.query(f"SELECT * FROM {table}")) for table in TABLES}


@pytest.fixture
def batch(studies: Path, settings: Settings) -> list[Instance | Quarantined]:
    return _fingerprinted(studies, settings)


def test_a_batch_is_committed_with_its_counts(batch: list[Instance | Quarantined],
                                              settings: Settings) -> None:
    instances = [r for r in batch if isinstance(r, Instance)]
    with Archive.open(settings.archive) as archive:
        run_id = start_run(archive, "test")
        counts = commit_batch(archive, run_id, batch, settings, skipped=3)
        assert (counts.instances, counts.recognised, counts.quarantined) == (len(instances), 0, 1)
        assert counts.bytes == sum(i.location.size for i in instances)
        assert counts.studies == {i.study_uid for i in instances} and len(counts.studies) == 2
        assert dict(counts.reasons) == {"not-dicom": 1}
        tables = _counts(archive)
        assert (tables["patients"], tables["studies"]) == (1, 2)
        assert tables["series"] == len({i.series_uid for i in instances}) == 5
        assert tables["instances"] == len(instances) and tables["files"] == len(batch)
        assert tables["fingerprints"] == 2 * 2  # header and pixel signature per study
        assert tables["lsh_bands"] == 2 * 2 * settings.lsh_bands
        run = archive.query("SELECT files, instances, quarantined, skipped, bytes FROM runs "
                            "WHERE run_id = ?", [run_id]).row(0)
        assert run == (len(batch) + 3, len(instances), 1, 3, counts.bytes)


def test_a_failed_batch_leaves_nothing_behind(batch: list[Instance | Quarantined],
                                              settings: Settings) -> None:
    with Archive.open(settings.archive) as archive:
        run_id = start_run(archive, "test")
        other = archive.cursor()  # another writer holds the run row: the batch's last step
        other.con.begin()         # (its run counters) conflicts and the batch rolls back
        other.execute("UPDATE runs SET files = 1 WHERE run_id = ?", [run_id])
        with pytest.raises(duckdb.TransactionException):
            commit_batch(archive, run_id, batch, settings)
        other.con.rollback()
        assert set(_counts(archive).values()) == {0}
        assert archive.query("SELECT files, instances FROM runs").row(0) == (0, 0)


def test_the_same_batch_twice_adds_nothing(batch: list[Instance | Quarantined],
                                           settings: Settings) -> None:
    with Archive.open(settings.archive) as archive:
        run_id = start_run(archive, "test")
        first = commit_batch(archive, run_id, batch, settings)
        tables = _counts(archive)
        signatures = archive.query("SELECT * FROM fingerprints ORDER BY ALL")
        again = commit_batch(archive, run_id, batch, settings)
        assert (again.instances, again.bytes, again.studies) == (0, 0, set())
        assert again.recognised == first.instances  # every file is known by its hash
        assert _counts(archive) == tables
        assert archive.query("SELECT * FROM fingerprints ORDER BY ALL").equals(signatures)


def test_signatures_merge_across_batches(batch: list[Instance | Quarantined],
                                         settings: Settings, tmp_path: Path) -> None:
    """A study committed over two batches gets the signatures of the whole study."""
    study = [r for r in batch if isinstance(r, Instance) and r.modality == "MR"]
    first_series = [r for r in study if r.series_uid == study[0].series_uid]
    rest = [r for r in study if r.series_uid != study[0].series_uid]
    assert first_series and rest
    stored = []
    for path, batches in ((tmp_path / "split.duckdb", [first_series, rest]),
                          (tmp_path / "whole.duckdb", [study])):
        with Archive.open(path) as archive:
            run_id = start_run(archive, "test")
            for part in batches:
                commit_batch(archive, run_id, list(part), settings)
            stored.append((archive.query("SELECT * FROM fingerprints ORDER BY ALL"),
                           archive.query("SELECT * FROM lsh_bands ORDER BY ALL")))
    (split_sigs, split_bands), (whole_sigs, whole_bands) = stored
    assert split_sigs.height == 2 and split_sigs.equals(whole_sigs)
    assert split_bands.height == 2 * settings.lsh_bands and split_bands.equals(whole_bands)
