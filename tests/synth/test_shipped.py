"""pydicom's real images as archived studies: all distinct, and their copies labelled."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from pydicom import dcmread

from dedup.synth.shipped import add_shipped_studies, shipped_copies, shipped_files


def _digest(path: Path) -> str:
    arr = np.asarray(dcmread(path).pixel_array)
    return hashlib.sha1(repr(arr.shape).encode() + arr.astype(np.int64).tobytes()).hexdigest()


def test_shipped_studies_are_real_distinct_and_need_no_download(tmp_path: Path) -> None:
    studies = add_shipped_studies(tmp_path)
    assert len({s.uid for s in studies}) == len(studies) >= 10
    files = [p for s in studies for p in sorted(s.folder.glob("*.dcm"))]
    assert len(files) == len(shipped_files())
    modalities = {dcmread(p, stop_before_pixels=True).Modality for p in files}
    assert {"CT", "MR", "US", "CR", "NM"} <= modalities
    digests = [_digest(p) for p in files]
    assert len(set(digests)) == len(digests)  # no image is a copy of another


def test_a_shipped_study_gets_a_lossless_and_a_lossy_copy_a_thumbnail_no_lossy_one(
        tmp_path: Path) -> None:
    studies = {s.source.split()[0]: s for s in add_shipped_studies(tmp_path / "archive")}
    ct, thumbnails = studies["CT_small.dcm"], studies["dicomdirtests/98892003/MR1/15820"]
    labels = shipped_copies([ct, thumbnails], tmp_path / "work", tmp_path / "incoming", 0)
    assert [(label.kind, label.duplicate_of) for label in labels] == \
        [("same-content", ct.uid), ("near", ct.uid), ("same-content", thumbnails.uid)]
    assert not {label.study_uid for label in labels} & {ct.uid, thumbnails.uid}
