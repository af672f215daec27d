"""End-to-end: `dedup index` as a real subprocess on generated data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from pydicom import dcmread

from dedup.archive.db import batch_lock
from dedup.synth import write_bad_inputs, write_dicomdir, zip_study
from tests.conftest import dedup_cli, index_json


def table_counts(archive: Path) -> dict[str, int]:
    with duckdb.connect(str(archive), read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                for t in ("patients", "studies", "series", "instances", "files", "quarantine",
                          "fingerprints", "lsh_bands")}


def uids_on_disk(folder: Path) -> tuple[set[str], set[str], set[str]]:
    studies, series, sops = set(), set(), set()
    for path in folder.rglob("*.dcm"):
        ds = dcmread(path, stop_before_pixels=True)
        studies.add(ds.StudyInstanceUID)
        series.add(ds.SeriesInstanceUID)
        sops.add(ds.SOPInstanceUID)
    return studies, series, sops


def test_counts_match_the_files_and_second_run_adds_nothing(corpus, tmp_path: Path) -> None:
    archive = tmp_path / "a.duckdb"
    first = index_json(str(corpus.archive_dir), "--archive", str(archive))
    studies, series, sops = uids_on_disk(corpus.archive_dir)
    files = sum(1 for _ in corpus.archive_dir.rglob("*.dcm"))
    assert {k: first[k] for k in ("studies", "series", "instances", "quarantined", "skipped")} \
        == {"studies": len(studies), "series": len(series), "instances": len(sops),
            "quarantined": 0, "skipped": 0}
    assert first["bytes"] == sum(p.stat().st_size for p in corpus.archive_dir.rglob("*.dcm"))
    counts = table_counts(archive)
    assert counts["studies"] == len(studies) and counts["instances"] == len(sops)
    assert counts["files"] == files
    assert counts["fingerprints"] == 2 * len(studies)

    second = index_json(str(corpus.archive_dir), "--archive", str(archive))
    assert second["skipped"] == files and second["instances"] == 0 and second["files"] == files
    assert table_counts(archive) == counts


def test_resent_files_under_another_path_are_recognised(corpus, tmp_path: Path) -> None:
    archive = tmp_path / "a.duckdb"
    index_json(str(corpus.archive_dir), "--archive", str(archive))
    before = table_counts(archive)
    study = next(p for p in sorted(corpus.archive_dir.iterdir()) if p.is_dir())
    copy = tmp_path / "resent"
    shutil.copytree(study, copy / study.name)
    n = sum(1 for p in copy.rglob("*") if p.is_file())
    summary = index_json(str(copy), "--archive", str(archive))
    assert summary["recognised"] == n and summary["instances"] == 0
    after = table_counts(archive)
    assert after["instances"] == before["instances"] and after["files"] == before["files"] + n


def test_zip_and_dicomdir_media(corpus, tmp_path: Path) -> None:
    study = next(p for p in sorted(corpus.archive_dir.iterdir()) if p.is_dir())
    n = sum(1 for p in study.rglob("*") if p.is_file())
    zip_study(study, tmp_path / "cd.zip")
    media = tmp_path / "cd"
    shutil.copytree(study, media / study.name)
    write_dicomdir(media)
    (media / "AUTORUN.INF").write_text("[autorun]\nopen=viewer.exe\n")  # viewer software
    zipped = index_json(str(tmp_path / "cd.zip"), "--archive", str(tmp_path / "z.duckdb"))
    assert zipped["instances"] == n and zipped["quarantined"] == 0
    cd = index_json(str(media), "--archive", str(tmp_path / "cd.duckdb"))
    assert cd["instances"] == n and cd["quarantined"] == 0
    again = index_json(str(tmp_path / "cd.zip"), "--archive", str(tmp_path / "z.duckdb"))
    assert again["skipped"] == n


def test_bad_input_is_quarantined_and_the_run_goes_on(corpus, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    paths = write_bad_inputs(bad)
    (bad / "dangling").symlink_to(tmp_path / "gone.dcm")
    (bad / "empty.dcm").write_bytes(b"")
    good = next(corpus.archive_dir.rglob("*.dcm"))
    shutil.copy(good, bad / "good.dcm")
    archive = tmp_path / "a.duckdb"
    summary = index_json(str(bad), "--archive", str(archive))
    assert summary["instances"] == 2  # good.dcm and 'unreadable' (root reads mode 000)
    with duckdb.connect(str(archive), read_only=True) as con:
        rows = dict(con.execute("SELECT location, reason FROM quarantine").fetchall())
    expected = {str(paths[r]): r for r in ("not-dicom", "truncated", "corrupt", "missing-uid",
                                           "pixel-length")}
    expected[str(paths["zip-bomb"]) + "!scan.dcm"] = "zip-bomb"
    expected[str(bad / "dangling")] = "unreadable"
    expected[str(bad / "empty.dcm")] = "not-dicom"
    assert rows == expected
    assert summary["quarantined"] == len(expected)
    assert all(p.exists() for p in paths.values())  # nothing deleted from the source


def test_only_bad_input_exits_nonzero(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    proc = dedup_cli("index", str(tmp_path / "in"), "--archive", str(tmp_path / "a.duckdb"),
                     check=False)
    assert proc.returncode == 4
    assert "none of 1 inputs could be indexed" in proc.stderr and "Traceback" not in proc.stderr


def test_json_summary_on_every_exit(tmp_path: Path, corpus) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    archive = str(tmp_path / "a.duckdb")
    proc = dedup_cli("index", str(tmp_path / "in"), "-a", archive, "--format", "json",
                     check=False)
    report = json.loads(proc.stdout)
    assert proc.returncode == report["exit_code"] == 4
    assert report["status"] == "nothing-done" and report["quarantined"] == 1
    with batch_lock(archive):
        proc = dedup_cli("index", str(corpus.archive_dir), "-a", archive, "--format", "json",
                         check=False)
    assert json.loads(proc.stdout) == {"status": "locked", "exit_code": 75,
                                       "error": json.loads(proc.stdout)["error"]}
    assert proc.returncode == 75


def test_second_batch_run_is_refused_while_locked(corpus, tmp_path: Path) -> None:
    archive = tmp_path / "a.duckdb"
    with batch_lock(archive):
        proc = dedup_cli("index", str(corpus.archive_dir), "--archive", str(archive),
                         check=False)
    assert proc.returncode == 75
    assert "another batch run" in proc.stderr and "Traceback" not in proc.stderr


def test_summary_json_and_no_phi_in_output(corpus, tmp_path: Path) -> None:
    proc = dedup_cli("index", str(corpus.incoming_dir), "--archive", str(tmp_path / "a.duckdb"),
                     "--format", "json")
    summary = json.loads(proc.stdout)
    assert {"studies", "series", "instances", "skipped", "quarantined", "bytes"} <= set(summary)
    phi = set()
    for path in list(corpus.incoming_dir.rglob("*.dcm"))[:50]:
        ds = dcmread(path, stop_before_pixels=True)
        phi |= {str(ds.PatientName), str(ds.PatientID), str(ds.PatientBirthDate)}
    output = proc.stdout + proc.stderr
    assert not [v for v in phi if v and v in output]


@pytest.mark.parametrize("command", ["index", "quarantine", "synth", "demo"])
def test_every_command_has_help(command: str) -> None:
    proc = dedup_cli(command, "--help")
    assert "Usage" in proc.stdout


def test_the_hint_after_a_run_works_as_printed(corpus, tmp_path: Path) -> None:
    archive = tmp_path / "a.duckdb"
    index_json(str(corpus.archive_dir), "--archive", str(archive))
    study = next(p for p in sorted(corpus.archive_dir.iterdir()) if p.is_dir())
    shutil.copytree(study, tmp_path / "resent" / study.name)  # an exact duplicate
    out = dedup_cli("index", str(tmp_path / "resent"), "--archive", str(archive)).stdout
    hint = next(line for line in out.splitlines() if "dedup duplicates" in line)
    command = hint.split("dedup ", 1)[1].split()
    listed = dedup_cli(*command, "--format", "json").stdout
    assert json.loads(listed) and "exact" in listed
