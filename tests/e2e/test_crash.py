"""`kill -9` during indexing leaves a consistent archive; the next run completes it exactly."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from tests.conftest import REPO, dedup_cli
from tests.orphans import marked_env, survivors

DUMP = {
    "studies": "SELECT s.study_uid, p.issuer, p.patient_id, s.study_date, s.n_series, "
               "s.n_instances, s.bytes, s.modalities FROM studies s JOIN patients p "
               "USING (patient_key)",
    "series": "SELECT se.series_uid, st.study_uid, se.n_instances FROM series se "
              "JOIN studies st USING (study_key)",
    "instances": "SELECT i.sop_uid, se.series_uid, i.pixel_hash, i.detail, i.file_hash, "
                 "i.bytes, i.location FROM instances i JOIN series se USING (series_key)",
    "files": "SELECT f.location, f.status, i.sop_uid FROM files f "
             "LEFT JOIN instances i USING (instance_key)",
    "fingerprints": "SELECT s.study_uid, f.kind, f.signature FROM fingerprints f "
                    "JOIN studies s USING (study_key)",
    "bands": "SELECT s.study_uid, b.kind, b.band, b.band_key FROM lsh_bands b "
             "JOIN studies s USING (study_key)",
    "quarantine": "SELECT location, reason FROM quarantine",
}


def dump(archive: Path) -> dict[str, list[tuple[object, ...]]]:
    with duckdb.connect(str(archive), read_only=True) as con:
        return {name: sorted(con.execute(sql).fetchall(), key=repr) for name, sql in DUMP.items()}


def index_args(corpus, archive: Path) -> list[str]:  # type: ignore[no-untyped-def]
    return ["index", str(corpus.archive_dir), str(corpus.incoming_dir), "--archive", str(archive)]


def test_kill_9_then_rerun_equals_an_undisturbed_run(corpus, tmp_path: Path) -> None:
    env = {"DEDUP_BATCH_FILES": "40"}
    reference = tmp_path / "reference.duckdb"
    started = time.monotonic()
    dedup_cli(*index_args(corpus, reference), env=env)
    duration = time.monotonic() - started
    expected = dump(reference)
    assert expected["instances"]

    rng = random.Random(2026)
    kill_points = int(os.environ.get("DEDUP_KILL_POINTS", "3"))
    killed_mid_run = 0
    for attempt in range(kill_points):
        archive = tmp_path / f"killed{attempt}.duckdb"
        marked, mark = marked_env({**os.environ, **env})
        proc = subprocess.Popen([sys.executable, "-m", "dedup", *index_args(corpus, archive)],
                                env=marked, cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.15, 0.9) * duration)
        if proc.poll() is None:
            killed_mid_run += 1
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        alive = survivors(mark, end=True)  # workers, fork server, resource tracker: all gone
        assert not alive, f"kill point {attempt}: processes of the run survived: {alive}"
        dedup_cli(*index_args(corpus, archive), env=env)
        assert dump(archive) == expected, f"kill point {attempt} diverged"
        with duckdb.connect(str(archive), read_only=True) as con:
            statuses = [r[0] for r in con.execute("SELECT status FROM runs ORDER BY run_id")
                        .fetchall()]
        assert statuses[-1] == "ok"
        assert "running" not in statuses
    assert killed_mid_run >= 1
