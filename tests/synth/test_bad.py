"""Bad inputs for the quarantine: each file is broken in the way its name says."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pydicom
import pytest
from pydicom.errors import InvalidDicomError

from dedup import synth


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return synth.write_bad_inputs(tmp_path_factory.mktemp("bad"), seed=3)


def test_bad_inputs(bad: dict[str, Path]) -> None:
    assert set(bad) == {"not-dicom", "truncated", "corrupt", "missing-uid", "pixel-length",
                        "zip-bomb", "unreadable"}  # fmt: skip
    assert all(path.exists() for path in bad.values())
    with pytest.raises(InvalidDicomError):
        pydicom.dcmread(bad["not-dicom"])
    with pytest.raises(OSError):
        pydicom.dcmread(bad["corrupt"])
    missing = pydicom.dcmread(bad["missing-uid"])
    assert "StudyInstanceUID" not in missing and "SOPInstanceUID" not in missing
    for reason in ("pixel-length", "truncated"):
        ds = pydicom.dcmread(bad[reason])
        assert len(ds.PixelData) < ds.Rows * ds.Columns * ds.BitsAllocated // 8
    assert bad["unreadable"].stat().st_mode & 0o777 == 0
    with zipfile.ZipFile(bad["zip-bomb"]) as zf:
        (member,) = zf.infolist()
    assert member.file_size > 2**31 and member.file_size / member.compress_size > 1000
    assert bad["zip-bomb"].stat().st_size < 5 * 2**20
