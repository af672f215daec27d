"""Shared fixtures: pydicom's shipped test files, the synthetic corpus, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from dedup.config import Settings
from dedup.synth import INSTITUTIONS, Patient, write_study

REPO = Path(__file__).resolve().parent.parent


def shipped(name: str) -> Path:
    """A file shipped inside pydicom's wheel (no download)."""
    path = get_testdata_file(name, download=False)
    assert path is not None, f"{name} not shipped with pydicom"
    return Path(path)


def synthetic_study(out: Path, *, seed: int, modality: str = "MR", name: str = "DOE^JANE",
                    institution: str = INSTITUTIONS[0], slices: int = 2) -> list[Path]:
    """Write one generated study (same person every time, ``seed`` picks the acquisition).

    Returns:
        The study's files, sorted.

    """
    patient = Patient(name, "T0001", "TEST", date(1960, 5, 17), "F", person=3)
    write_study(out, modality=modality, patient=patient, seed=seed, study_date=date(2024, 3, 1),
                institution=institution, slices=slices)
    return sorted(out.rglob("*.dcm"))


def dedup_cli(*args: str, env: dict[str, str] | None = None, check: bool = True,
              timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``python -m dedup ARGS`` as a real subprocess."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "dedup", *args], capture_output=True,
                          text=True, env=full_env, timeout=timeout, cwd=REPO)
    if check and proc.returncode != 0:
        raise AssertionError(f"dedup {' '.join(args)} exited {proc.returncode}\n"
                             f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def index_json(*args: str, **kwargs: object) -> dict[str, object]:
    """Run ``dedup index ... --format json`` and parse its summary."""
    proc = dedup_cli("index", *args, "--format", "json", **kwargs)  # type: ignore[arg-type]
    return json.loads(proc.stdout)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for an in-process run on a fresh archive (one worker: fast start)."""
    return Settings(archive=str(tmp_path / "archive.duckdb"), workers=1, publish=False)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A small synthetic corpus with every duplicate kind and negatives (shared, read-only)."""
    from dedup.synth import make_corpus

    return make_corpus(tmp_path_factory.mktemp("corpus"), patients=4, seed=7, ct_slices=6)


@pytest.fixture(scope="session")
def demo_archive(corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    """The corpus indexed into a published archive, plus demo checks (shared, read-only)."""
    from dedup.batch.pipeline import index
    from dedup.synth.checks import add_demo_checks

    path = tmp_path_factory.mktemp("demo") / "archive.duckdb"
    settings = Settings(archive=str(path), workers=1)
    index([corpus.archive_dir], settings)
    index([corpus.incoming_dir], settings)
    add_demo_checks(path)
    return path
