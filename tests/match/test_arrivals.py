"""Duplicates inside one study (issue 10, classes 1 and 2), made by DCMTK and GDCM.

A copy keeps its source's Study Instance UID and gets new SOP Instance UIDs (a router, a
re-send, lossy compression), or even keeps the SOP Instance UIDs with other pixels
(``dcmcjpeg +un``). Nothing here is written by dedup's own writer but the first study.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from pydicom import dcmread

from dedup.archive.db import Archive
from dedup.batch import index
from dedup.config import Settings
from dedup.synth import Patient, write_study
from dedup.synth.copies import missing_tools, transcode

pytestmark = pytest.mark.skipif(bool(missing_tools()), reason="make test installs the tools")

ANNA = Patient("NOVAK^ANNA", "SM0000101", "STMARY", date(1970, 1, 1), "F", 101)
OTTO = Patient("BERG^OTTO", "SM0000207", "STMARY", date(1962, 5, 9), "M", 207)


def study(out: Path, modality: str, patient: Patient, seed: int) -> tuple[str, Path]:
    uid = write_study(out, modality=modality, patient=patient, seed=seed,
                      study_date=date(2024, 3, 1), institution="St. Mary Hospital", slices=2)
    return uid, next(p for p in out.iterdir() if p.is_dir())


def dcmodify(folder: Path, *args: str) -> None:
    """Run DCMTK's dcmodify on every file of a folder tree, in place."""
    for path in sorted(folder.rglob("*.dcm")):
        subprocess.run(["dcmodify", "-nb", *args, str(path)], check=True, capture_output=True)


def rows(settings: Settings, *batches: Path) -> list[tuple[str, str, str, int, int]]:
    """Index each folder as one run; (study, duplicate of, kind, arrival run, bytes) rows."""
    for batch in batches:
        index([batch], settings)
    with Archive.open(settings.archive, read_only=True) as archive:
        return sorted(archive.con.execute(
            "SELECT study_uid, duplicate_of_study_uid, kind, arrival_run, bytes_reclaimable "
            "FROM duplicates").fetchall())


def size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*.dcm"))


def test_a_lossless_resend_under_new_sop_uids_is_same_content_of_its_own_study(
        tmp_path: Path, settings: Settings) -> None:
    uid, folder = study(tmp_path / "archive", "CT", ANNA, 11)
    shutil.copytree(folder, tmp_path / "reuid")
    dcmodify(tmp_path / "reuid", "--gen-inst-uid")
    transcode(tmp_path / "reuid", tmp_path / "incoming" / "copy", ["gdcmconv", "--j2k"])
    found = rows(settings, tmp_path / "archive", tmp_path / "incoming")
    assert found == [(uid, uid, "same-content", 2, size(tmp_path / "incoming"))]


@pytest.mark.parametrize(("modality", "tool"), [
    ("CT", ["dcmcjpeg", "+ee", "+q", "80"]),             # new SOP Instance UIDs (DICOM's rule)
    ("MR", ["gdcmconv", "--j2k", "--lossy", "-r", "20"]),
])
def test_a_lossy_copy_under_its_study_uid_is_near_of_its_own_study(
        tmp_path: Path, settings: Settings, modality: str, tool: list[str]) -> None:
    uid, folder = study(tmp_path / "archive", modality, ANNA, 12)
    shutil.copytree(folder, tmp_path / "reuid")
    dcmodify(tmp_path / "reuid", "--gen-inst-uid")
    transcode(tmp_path / "reuid", tmp_path / "incoming" / "copy", tool)
    found = rows(settings, tmp_path / "archive", tmp_path / "incoming")
    assert found == [(uid, uid, "near", 2, size(tmp_path / "incoming"))]


def test_the_same_sop_uids_with_lossy_pixels_are_recorded_and_near(
        tmp_path: Path, settings: Settings) -> None:
    uid, folder = study(tmp_path / "archive", "CT", ANNA, 13)
    transcode(folder, tmp_path / "incoming" / "copy", ["dcmcjpeg", "+ee", "+q", "80", "+un"])
    index([tmp_path / "archive"], settings)
    summary = index([tmp_path / "incoming"], settings)
    instances = len(list(folder.rglob("*.dcm")))
    assert summary.conflicts == instances and summary.quarantined == 0
    with Archive.open(settings.archive, read_only=True) as archive:
        recorded = archive.con.execute(
            "SELECT count(*) FROM instances WHERE conflict_of IS NOT NULL").fetchone()
    assert recorded == (instances,)
    assert rows(settings) == [(uid, uid, "near", 2, size(tmp_path / "incoming"))]


def test_a_genuine_uid_conflict_is_recorded_not_flagged(tmp_path: Path,
                                                       settings: Settings) -> None:
    uid, folder = study(tmp_path / "archive", "CT", ANNA, 14)
    target = dcmread(sorted(folder.rglob("*.dcm"))[0], stop_before_pixels=True)
    _, other = study(tmp_path / "other", "CT", OTTO, 15)  # another patient's image
    clash = tmp_path / "incoming" / "clash.dcm"
    clash.parent.mkdir()
    shutil.copy(sorted(other.rglob("*.dcm"))[0], clash)
    dcmodify(clash.parent, "-m", f"StudyInstanceUID={uid}",
             "-m", f"SeriesInstanceUID={target.SeriesInstanceUID}",
             "-m", f"SOPInstanceUID={target.SOPInstanceUID}")
    index([tmp_path / "archive"], settings)
    summary = index([tmp_path / "incoming"], settings)
    assert (summary.conflicts, summary.instances, summary.quarantined) == (1, 1, 0)
    assert rows(settings) == []


def test_another_acquisition_added_to_a_study_later_is_no_duplicate(
        tmp_path: Path, settings: Settings) -> None:
    uid, _ = study(tmp_path / "archive", "CT", ANNA, 16)
    _, later = study(tmp_path / "later", "CT", ANNA, 17)  # the same person, another scan
    dcmodify(later, "-m", f"StudyInstanceUID={uid}")
    transcode(later, tmp_path / "incoming" / "native", ["dcmcjpeg", "+e1"])
    shutil.copytree(later, tmp_path / "lossy-src")
    dcmodify(tmp_path / "lossy-src", "--gen-inst-uid", "--gen-ser-uid")
    transcode(tmp_path / "lossy-src", tmp_path / "incoming" / "lossy",
              ["dcmcjpeg", "+ee", "+q", "80"])
    assert rows(settings, tmp_path / "archive", tmp_path / "incoming") == []
