"""The tools the evaluation's copies are made with, and the pixel check of their labels."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydicom import dcmread

from dedup.synth import Label
from dedup.synth.tools import (
    deidentify,
    free_study,
    has_deid,
    pixel_kind,
    transcode,
    transcode_any,
)
from tests.conftest import shipped


@pytest.fixture
def ct_small(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    shutil.copy(shipped("CT_small.dcm"), tmp_path / "src" / "1.dcm")
    return tmp_path / "src"


def test_pixel_kind_tells_a_lossless_transcode_from_a_lossy_one(ct_small: Path) -> None:
    transcode(ct_small, ct_small.parent / "j2k", ["gdcmconv", "--j2k"])
    transcode(ct_small, ct_small.parent / "lossy", ["gdcmconv", "--j2k", "--lossy", "-r", "20"])
    assert pixel_kind(ct_small, ct_small.parent / "j2k") == "same-content"
    assert pixel_kind(ct_small, ct_small.parent / "lossy") == "near"


def test_transcode_any_falls_to_the_next_tool_when_one_refuses(ct_small: Path) -> None:
    # JPEG-LS near-lossless takes no signed pixels (CT_small is signed)
    tools = [(["dcmcjpls", "+en"], "jpeg-ls"), (["gdcmconv", "--j2k", "--lossy"], "gdcm")]
    assert transcode_any(ct_small, ct_small.parent / "out", tools, 0) == "gdcm"
    assert dcmread(ct_small.parent / "out" / "1.dcm").file_meta.TransferSyntaxUID.is_compressed


@pytest.mark.skipif(not has_deid(), reason="deid not installed (pip install -e '.[eval]')")
def test_deid_copy_has_new_uids_no_identity_and_the_same_pixels(ct_small: Path) -> None:
    original = dcmread(ct_small / "1.dcm")
    new_study = deidentify(ct_small, ct_small.parent / "deid")
    copy = dcmread(ct_small.parent / "deid" / "1.dcm")
    assert new_study == copy.StudyInstanceUID != original.StudyInstanceUID
    for keyword in ("SeriesInstanceUID", "SOPInstanceUID"):
        assert copy[keyword].value not in ("", original[keyword].value)
    assert copy.SOPClassUID == original.SOPClassUID
    assert "PatientName" not in copy and "StudyDate" not in copy
    assert pixel_kind(ct_small, ct_small.parent / "deid") == "same-content"


def test_free_study_skips_studies_that_already_hold_a_copy_inside() -> None:
    pool = {"CT": [("c1", Path("c1")), ("c2", Path("c2"))], "MR": [("m1", Path("m1"))]}
    inside = [Label("c2", "exact", "c2", "re-sent"), Label("x", "near", "c1", "other study")]
    assert free_study(pool, ("CT",), inside) == ("c1", Path("c1"))
    assert free_study(pool, ("CT", "MR"), [*inside, Label("c1", "near", "c1", "")]) == \
        ("m1", Path("m1"))
    assert free_study(pool, ("US",), []) is None
