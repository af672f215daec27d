"""dedup.batch.pipeline: one archive, whether files are read in this process or in workers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import duckdb

from dedup.batch.pipeline import index
from dedup.config import Settings
from dedup.synth import write_bad_inputs, zip_study
from tests.conftest import synthetic_study

#: What indexing stores, by table (the run's own row, with its times, aside).
TABLES = ("patients", "studies", "series", "instances", "files", "quarantine", "fingerprints",
          "lsh_bands")


def stored(archive: Path) -> dict[str, list[tuple[object, ...]]]:
    with duckdb.connect(str(archive), read_only=True) as con:
        return {table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
                for table in TABLES}


def test_serial_and_parallel_runs_store_the_same(tmp_path: Path, settings: Settings) -> None:
    inputs = tmp_path / "inputs"
    synthetic_study(inputs / "mr", seed=1, slices=3)
    synthetic_study(inputs / "ct", seed=2, modality="CT", slices=20)  # more than one task
    zip_study(next((inputs / "mr").iterdir()), inputs / "mr.zip")  # the same files, zipped
    write_bad_inputs(inputs / "bad")
    serial = index([inputs], settings)
    parallel_settings = replace(settings, archive=str(tmp_path / "parallel.duckdb"), workers=2)
    parallel = index([inputs], parallel_settings)
    assert serial.instances > 20 and serial.quarantined > 0 and serial.recognised > 0
    assert {k: v for k, v in serial.as_dict().items() if k != "seconds"} == \
        {k: v for k, v in parallel.as_dict().items() if k != "seconds"}
    assert stored(Path(settings.archive)) == stored(Path(parallel_settings.archive))


def test_progress_is_reported_after_every_input(tmp_path: Path, settings: Settings) -> None:
    files = synthetic_study(tmp_path / "in", seed=3, slices=3)
    calls: list[tuple[int, int]] = []
    summary = index([tmp_path / "in"], settings, lambda done, nbytes: calls.append((done, nbytes)))
    assert [done for done, _ in calls] == list(range(1, len(files) + 1)) == \
        list(range(1, summary.files + 1))  # one call per file, not per 2,000-file batch
    assert calls[-1][1] == sum(f.stat().st_size for f in files)
    again: list[tuple[int, int]] = []
    index([tmp_path / "in"], settings, lambda done, nbytes: again.append((done, nbytes)))
    assert again[-1] == (len(files), 0)  # skipped as unchanged: counted, nothing read
