"""A copy made by a real Orthanc inside an archived study: new SOP UIDs, same Study UID."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import dcmread

from dedup.synth.orthanc import orthanc_binary
from dedup.synth.orthanc_copies import orthanc_copies
from tests.conftest import synthetic_study


@pytest.mark.skipif(orthanc_binary() is None, reason="Orthanc not installed (`make system-deps`)")
def test_orthanc_copy_keeping_the_study_uid_is_labelled_a_duplicate_inside_it(
        tmp_path: Path) -> None:
    files = synthetic_study(tmp_path / "archive" / "mr", seed=5, slices=1)
    uid = str(dcmread(files[0]).StudyInstanceUID)
    # one MR study only: the one change that can take it is /modify keeping the Study UID
    labels = orthanc_copies({"MR": [(uid, tmp_path / "archive" / "mr")]}, tmp_path / "work",
                            tmp_path / "incoming", 0, [])
    assert [(label.study_uid, label.kind, label.duplicate_of) for label in labels] == \
        [(uid, "same-content", uid)]
    copies = [dcmread(p) for p in sorted((tmp_path / "incoming").rglob("*.dcm"))]
    originals = [dcmread(p) for p in files]
    assert len(copies) == len(originals) == 3
    assert {ds.StudyInstanceUID for ds in copies} == {uid}
    assert not {ds.SOPInstanceUID for ds in copies} & {ds.SOPInstanceUID for ds in originals}
    assert not {ds.SeriesInstanceUID for ds in copies} & {ds.SeriesInstanceUID
                                                          for ds in originals}
