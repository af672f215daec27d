"""Copies made by third-party tools for the evaluation: the recipe of the near copies."""

from __future__ import annotations

import shutil
from pathlib import Path

from pydicom import dcmread

from dedup.synth.copies import NEAR_KEEP, anonymise
from tests.conftest import shipped


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
