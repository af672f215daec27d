"""Patient data is its owner's only, whatever the umask: files dedup makes are 600, folders 700."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from dedup.archive.db import Archive
from dedup.private import owner_only, private_folder
from tests.conftest import REPO, synthetic_study
from tests.service.conftest import AUTH, running_server


def _umask_022() -> None:
    os.umask(0o022)  # the usual default: new files world-readable unless dedup says otherwise


def _dedup(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dedup", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, preexec_fn=_umask_022,
                          env={**os.environ, "DEDUP_WORKERS": "1", "DEDUP_BATCH_FILES": "2"})


def _modes(root: Path) -> dict[str, str]:
    """The mode of everything under (and including) ``root`` but symbolic links."""
    found = {}
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        if not stat.S_ISLNK(st.st_mode):
            found[str(path.relative_to(root.parent))] = oct(stat.S_IMODE(st.st_mode))
    return found


def _not_owner_only(root: Path, ignore: str = "") -> dict[str, str]:
    return {path: mode for path, mode in _modes(root).items() if path != ignore
            and mode != ("0o700" if (root.parent / path).is_dir() else "0o600")}


def test_index_serve_and_check_make_only_owner_only_files(tmp_path: Path) -> None:
    synthetic_study(tmp_path / "studies" / "first", seed=1, modality="CT")
    archive = tmp_path / "out" / "archive.duckdb"
    assert _dedup("index", "--archive", archive, tmp_path / "studies").returncode == 0
    with running_server(archive, preexec=_umask_022) as url:
        with httpx.Client(base_url=url, headers=AUTH, timeout=10) as http:
            asked = http.get("/v1/priors", params={"name": "DOE^JANE", "sex": "F",
                                                   "birth_date": "1960-05-17",
                                                   "procedure": "CT HEAD"})
            assert http.post("/v1/outcomes", json={"check_id": asked.json()["check_id"],
                                                   "outcome": "withdrawn"}).status_code == 201
        serving = _modes(tmp_path / "out")  # the check log's -wal and -shm exist meanwhile
        assert {"out/archive.checks.sqlite-wal", "out/archive.checks.sqlite-shm"} <= set(serving)
        assert not _not_owner_only(tmp_path / "out", ignore="out/archive.serve.log")
    synthetic_study(tmp_path / "studies" / "second", seed=2, modality="CT")
    assert _dedup("index", "--archive", archive, tmp_path / "studies").returncode == 0
    checked = _dedup("check", "--archive", archive, "--name", "DOE^JANE", "--sex", "F",
                     "--birth-date", "1960-05-17", "--procedure", "CT HEAD")
    assert checked.returncode in (0, 5), checked.stderr
    (tmp_path / "out" / "archive.serve.log").unlink()  # the test's own capture of the output
    modes = _modes(tmp_path / "out")
    assert {"out/archive.duckdb", "out/archive.checks.sqlite", "out/archive.checks.key",
            "out/archive.duckdb.snapshots"} <= set(modes), modes
    assert len([p for p in modes if p.startswith("out/archive.duckdb.snapshots/")]) == 2
    assert not _not_owner_only(tmp_path / "out")


def test_the_write_ahead_log_is_owner_only_each_time_duckdb_makes_it(tmp_path: Path) -> None:
    wal = tmp_path / "archive.duckdb.wal"
    before = os.umask(0o022)
    try:
        with Archive.open(tmp_path / "archive.duckdb") as archive:
            for n in range(3):  # DuckDB deletes the log at a checkpoint and makes it again
                with archive.transaction():
                    archive.execute(f"CREATE TABLE t{n} AS SELECT {n} AS x")
                assert stat.S_IMODE(wal.stat().st_mode) == 0o600
                archive.checkpoint()
                assert not wal.exists()
        assert stat.S_IMODE((tmp_path / "archive.duckdb").stat().st_mode) == 0o600
        assert os.umask(0o022) == 0o022  # given back when the archive closed
    finally:
        os.umask(before)


def test_owner_only_restores_the_umask_when_its_last_holder_leaves() -> None:
    before = os.umask(0o022)
    try:
        started, leave = threading.Event(), threading.Event()

        def hold() -> None:
            with owner_only():
                started.set()
                leave.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        started.wait(10)
        with owner_only():
            pass  # this holder leaves first: the umask stays tight for the other
        assert os.umask(0o077) == 0o077
        leave.set()
        holder.join()
        assert os.umask(0o022) == 0o022
    finally:
        os.umask(before)


def test_private_folder_makes_missing_folders_700_and_leaves_existing_ones(tmp_path: Path
                                                                           ) -> None:
    before = os.umask(0o022)
    try:
        (tmp_path / "kept").mkdir()
        made = private_folder(tmp_path / "kept" / "a" / "b")
    finally:
        os.umask(before)
    assert made.is_dir()
    assert [oct(stat.S_IMODE(p.stat().st_mode)) for p in (made, made.parent, made.parent.parent)
            ] == ["0o700", "0o700", "0o755"]
