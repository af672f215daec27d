"""``dedup index`` on a full disk: exit 74, a clear message and its JSON, as ``dedup nightly``."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, synthetic_study
from tests.e2e.nightly_support import ARCHIVE, archive_rows, consistency_problems, count


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two CT studies in ``first``, four MR studies in ``later`` (54 files)."""
    root = tmp_path_factory.mktemp("studies")
    for n in range(2):
        synthetic_study(root / "first" / f"{n}", seed=n, modality="CT", slices=3)
    for n in range(4):
        synthetic_study(root / "later" / f"{n}", seed=10 + n, modality="MR", slices=3)
    return root


def index(run_dir: Path, *folders: Path, preexec: Callable[[], None] | None = None
          ) -> tuple[int, dict[str, object], str]:
    """Run ``dedup index --format json``; return its exit code, JSON and stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "dedup", "index", "--archive", str(run_dir / ARCHIVE),
         *map(str, folders), "--format", "json"], capture_output=True, text=True, cwd=REPO,
        timeout=300, preexec_fn=preexec,
        env={**os.environ, "DEDUP_WORKERS": "1", "DEDUP_BATCH_FILES": "4"})
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def file_size_limit(limit: int) -> Callable[[], None]:
    """In the child: no file grows beyond ``limit`` bytes, and writes beyond it fail (EFBIG)."""
    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel's signal kills it
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return limit_file_size


@pytest.fixture(scope="module")
def reference(studies: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("reference")
    for folders in ((studies / "first",), (studies / "first", studies / "later")):
        assert index(run_dir, *folders)[0] == 0
    return run_dir


@pytest.mark.parametrize("limit_kb", [32, 1024], ids=["in-a-batch", "at-checkpoint"])
def test_a_full_disk_exits_74_with_the_summary_and_the_next_run_resumes(
        studies: Path, reference: Path, tmp_path: Path, limit_kb: int) -> None:
    both = (studies / "first", studies / "later")
    assert index(tmp_path, studies / "first")[0] == 0
    before = count(tmp_path, "instances")
    code, summary, stderr = index(tmp_path, *both, preexec=file_size_limit(limit_kb * 1024))
    assert code == 74, stderr
    assert summary["status"] == "storage-error" and summary["exit_code"] == 74
    assert str(summary["error"]).startswith(
        f"disk full while writing the archive {str(tmp_path / ARCHIVE)!r}")
    assert "free space and rerun" in str(summary["error"])
    assert "Traceback" not in stderr and "dedup: error: disk full" in stderr
    assert not consistency_problems(tmp_path)  # it opens, and every count agrees
    at_failure = count(tmp_path, "instances")
    assert before <= at_failure <= 54
    again, summary, stderr = index(tmp_path, *both)
    assert again == 0 and summary["status"] == "ok", stderr
    assert archive_rows(tmp_path) == archive_rows(reference)
    print(f"\nfile size limit {limit_kb} KiB: {at_failure - before} of 36 new instances were "
          "committed before the disk was full; the next run added the rest")


def test_a_missing_input_is_an_error_that_names_it(tmp_path: Path) -> None:
    from tests.conftest import dedup_cli

    (tmp_path / "real").mkdir()
    typo = tmp_path / "incomnig"
    proc = dedup_cli("index", str(tmp_path / "real"), str(typo), "-a",
                     str(tmp_path / ARCHIVE), check=False)
    assert proc.returncode == 2 and f"no such input: {str(typo)!r}" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["real"]  # no archive, no row


def test_an_empty_input_says_so(tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    code, report, stderr = index(tmp_path, tmp_path / "empty")
    assert code == 4 and report["status"] == "nothing-done" and report["files"] == 0
    assert f"no files in {str(tmp_path / 'empty')!r}: nothing to index" in stderr
    assert not (tmp_path / ARCHIVE).exists()
