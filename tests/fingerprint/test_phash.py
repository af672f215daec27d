"""dedup.fingerprint.phash: lossy copies stay close, new acquisitions are far, distance is a metric.

The lossy copies are made by DCMTK (``dcmcjpeg``), the pixels decoded by pydicom: only the
hash and the distance are ours.
"""

from __future__ import annotations

import subprocess
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.uid import JPEGExtended12Bit, JPEGLosslessSV1

from dedup.config import Settings
from dedup.fingerprint.phash import BITS, distance, phash
from tests.conftest import shipped, synthetic_study

NEAR = Settings().match_near_max_distance  # the matcher's "looks the same" limit


def pixels(path: Path) -> np.ndarray:
    """The canonical (frames, rows, columns, samples) array, decoded by pydicom."""
    ds = dcmread(path)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    return ds.pixel_array.reshape(frames, ds.Rows, ds.Columns, ds.SamplesPerPixel)


def hash_of(path: Path) -> bytes:
    value = phash(pixels(path))
    assert value is not None and len(value) == BITS // 8
    return value


def dcmcjpeg(source: Path, target: Path, *options: str) -> Path:
    subprocess.run(["dcmcjpeg", *options, str(source), str(target)], check=True,
                   capture_output=True, timeout=60)
    return target


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """Two MR acquisitions of one patient (same procedure) and one CT."""
    root = tmp_path_factory.mktemp("phash")
    return {"first": synthetic_study(root / "first", seed=1),
            "second": synthetic_study(root / "second", seed=2),
            "ct": synthetic_study(root / "ct", seed=1, modality="CT")}


def test_same_image_in_another_encoding_has_distance_zero(studies: dict[str, list[Path]],
                                                          tmp_path: Path) -> None:
    source = studies["first"][0]
    lossless = dcmcjpeg(source, tmp_path / "lossless.dcm", "+e1")
    assert dcmread(lossless).file_meta.TransferSyntaxUID == JPEGLosslessSV1
    assert lossless.read_bytes() != source.read_bytes()
    assert hash_of(lossless) == hash_of(source)
    assert distance(hash_of(lossless), hash_of(source)) == 0


@pytest.mark.parametrize("quality", ["90", "50", "10"])
def test_jpeg_lossy_copies_are_close(studies: dict[str, list[Path]], tmp_path: Path,
                                     quality: str) -> None:
    for n, source in enumerate(studies["first"]):
        lossy = dcmcjpeg(source, tmp_path / f"lossy{n}.dcm", "+ee", "+q", quality)
        assert dcmread(lossy).file_meta.TransferSyntaxUID == JPEGExtended12Bit
        assert not np.array_equal(pixels(lossy), pixels(source))  # the copy lost detail
        assert distance(hash_of(lossy), hash_of(source)) <= NEAR // 2, source  # well inside


def test_a_new_acquisition_is_far(studies: dict[str, list[Path]]) -> None:
    for first, second in zip(studies["first"], studies["second"], strict=True):
        assert distance(hash_of(first), hash_of(second)) > NEAR, (first, second)
    assert distance(hash_of(studies["first"][0]), hash_of(studies["ct"][0])) > NEAR


def test_distance_is_symmetric_and_zero_only_between_equal_hashes(
        studies: dict[str, list[Path]]) -> None:
    hashes = [hash_of(p) for p in (*studies["first"], *studies["second"], *studies["ct"])]
    hashes.append(hash_of(shipped("CT_small.dcm")))
    for a, b in combinations(hashes, 2):
        assert distance(a, b) == distance(b, a)
        assert 0 <= distance(a, b) <= BITS
        assert (distance(a, b) == 0) == (a == b)
    assert all(distance(h, h) == 0 for h in hashes)
    assert distance(bytes(BITS // 8), b"\xff" * (BITS // 8)) == BITS


def test_no_hash_for_uniform_tiny_or_malformed_arrays() -> None:
    assert phash(np.full((1, 64, 64, 1), 7, np.uint16)) is None  # a blank frame
    assert phash(np.arange(15 * 15, dtype=np.uint16).reshape(1, 15, 15, 1)) is None
    assert phash(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64, 1)) is None
    assert phash(np.arange(64 * 64, dtype=np.uint16).reshape(1, 64, 64, 1)) is not None


def test_the_middle_frame_of_a_multiframe_array_is_hashed(
        studies: dict[str, list[Path]]) -> None:
    first, middle, last = studies["first"][0], studies["second"][0], studies["first"][-1]
    frames = np.concatenate([pixels(first), pixels(middle), pixels(last)])
    assert phash(frames) == hash_of(middle)
    assert hash_of(middle) not in (hash_of(first), hash_of(last))
