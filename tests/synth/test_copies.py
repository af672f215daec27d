"""Copies made by third-party tools for the evaluation: the recipe of the near copies."""

from __future__ import annotations

import shutil
from pathlib import Path

from pydicom import dcmread

from dedup.synth.copies import NEAR_KEEP, _same_sop_lossy, anonymise
from tests.conftest import shipped, synthetic_study


def test_near_copies_keep_acquisition_times_through_dicognito(tmp_path: Path) -> None:
    # dicognito shifts each time with its date: keeping AcquisitionTime alone is not enough.
    (tmp_path / "src").mkdir()
    shutil.copy(shipped("CT_small.dcm"), tmp_path / "src" / "1.dcm")
    original = dcmread(tmp_path / "src" / "1.dcm")
    anonymise(tmp_path / "src", tmp_path / "kept", "k", NEAR_KEEP)
    anonymise(tmp_path / "src", tmp_path / "shifted", "k")
    kept = dcmread(next((tmp_path / "kept").rglob("*.dcm")))
    shifted = dcmread(next((tmp_path / "shifted").rglob("*.dcm")))
    assert kept.StudyInstanceUID != original.StudyInstanceUID
    assert (kept.AcquisitionTime, kept.ContentTime) == (original.AcquisitionTime,
                                                        original.ContentTime)
    assert shifted.AcquisitionDate != original.AcquisitionDate


def test_a_lossy_copy_keeping_its_sop_uids_is_a_near_duplicate_inside_its_study(
        tmp_path: Path) -> None:
    files = synthetic_study(tmp_path / "mr", seed=9, slices=1)
    uid = str(dcmread(files[0]).StudyInstanceUID)
    labels = _same_sop_lossy({"MR": [(uid, tmp_path / "mr")]}, tmp_path / "in", 0, [])
    assert [(label.study_uid, label.kind, label.duplicate_of) for label in labels] == \
        [(uid, "near", uid)]
    copies = {dcmread(p).SOPInstanceUID: dcmread(p) for p in (tmp_path / "in").rglob("*.dcm")}
    assert set(copies) == {dcmread(p).SOPInstanceUID for p in files}
    assert all(ds.file_meta.TransferSyntaxUID.is_compressed for ds in copies.values())
    # a study that already holds a copy inside it gets no second one
    assert _same_sop_lossy({"MR": [(uid, tmp_path / "mr")]}, tmp_path / "in2", 0, labels) == []
