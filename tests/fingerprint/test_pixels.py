from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dedup.config import Settings
from dedup.fingerprint.instance import fingerprint_location
from dedup.fingerprint.pixels import PixelFormat, PixelLengthError, native_pixels, pixel_hash
from dedup.records import Instance, Location, Quarantined
from tests.conftest import shipped

SYNTAXES = ["MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm",
            "MR_small_expb.dcm", "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm"]


def fingerprint_file(path: Path) -> Instance | Quarantined:
    return fingerprint_location(Location(str(path), None, path.stat().st_size, 0.0), Settings())


def pixel_hash_of(path: Path) -> bytes:
    result = fingerprint_file(path)
    assert isinstance(result, Instance), result
    assert result.pixel_hash is not None
    return result.pixel_hash


def test_one_hash_across_shipped_transfer_syntaxes() -> None:
    hashes = {name: pixel_hash_of(shipped(name)) for name in SYNTAXES}
    assert len(set(hashes.values())) == 1, hashes


def run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


def test_one_hash_across_third_party_transcodes(tmp_path: Path) -> None:
    """DCMTK and GDCM, not our code, make the copies: uncompressed, JPEG lossless, J2K, RLE."""
    source = tmp_path / "ct.dcm"
    shutil.copy(shipped("CT_small.dcm"), source)
    run("dcmcjpeg", "+e1", str(source), str(tmp_path / "jpeg_lossless.dcm"))   # process 14 SV1
    run("dcmcrle", str(source), str(tmp_path / "rle.dcm"))
    run("gdcmconv", "--j2k", str(source), str(tmp_path / "j2k.dcm"))            # lossless default
    run("dcmdjpeg", str(tmp_path / "jpeg_lossless.dcm"), str(tmp_path / "roundtrip.dcm"))
    names = ["ct.dcm", "jpeg_lossless.dcm", "rle.dcm", "j2k.dcm", "roundtrip.dcm"]
    results = {n: fingerprint_file(tmp_path / n) for n in names}
    syntaxes = {r.transfer_syntax for r in results.values() if isinstance(r, Instance)}
    assert len(syntaxes) >= 4, syntaxes
    assert len({pixel_hash_of(tmp_path / n) for n in names}) == 1


def test_lossy_copy_has_another_hash_but_a_close_signature(tmp_path: Path) -> None:
    from dedup.fingerprint.detail import copy_partners
    from dedup.match.run import copy_limits

    source = tmp_path / "mr.dcm"
    shutil.copy(shipped("MR_small.dcm"), source)
    run("gdcmconv", "--j2k", "--lossy", "-q", "80", str(source), str(tmp_path / "lossy.dcm"))
    a, b = fingerprint_file(source), fingerprint_file(tmp_path / "lossy.dcm")
    assert isinstance(a, Instance) and isinstance(b, Instance)
    assert a.pixel_hash != b.pixel_hash
    assert a.detail and b.detail
    s = Settings()
    assert copy_partners([a.detail], [b.detail], copy_limits(s))[0].all()


def test_padding_byte_is_not_hashed() -> None:
    fmt = PixelFormat(rows=3, columns=3, bits_allocated=8)
    data = bytes(range(9))
    assert pixel_hash(fmt, native_pixels(fmt, data)) == \
        pixel_hash(fmt, native_pixels(fmt, data + b"\x00"))


@pytest.mark.parametrize("length", [0, 8, 11, 18])
def test_wrong_length_is_rejected(length: int) -> None:
    fmt = PixelFormat(rows=3, columns=3, bits_allocated=8)
    with pytest.raises(PixelLengthError):
        native_pixels(fmt, bytes(length))


def test_planar_configuration_is_interleaved() -> None:
    rgb = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3)
    planar = rgb.transpose(2, 0, 1).tobytes()
    interleaved = rgb.tobytes()
    base = dict(rows=2, columns=2, samples=3, bits_allocated=8)
    a = native_pixels(PixelFormat(**base, planar_configuration=1), planar)
    b = native_pixels(PixelFormat(**base, planar_configuration=0), interleaved)
    assert np.array_equal(a, b)


def test_geometry_is_part_of_the_hash() -> None:
    data = bytes(range(12))
    a = PixelFormat(rows=3, columns=4, bits_allocated=8)
    b = PixelFormat(rows=4, columns=3, bits_allocated=8)
    assert pixel_hash(a, native_pixels(a, data)) != pixel_hash(b, native_pixels(b, data))
