"""Broken inputs, one per quarantine reason, including a zip bomb built without inflating it."""

from __future__ import annotations

import os
import struct
import zlib
from datetime import date
from io import BytesIO
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from dedup.synth.headers import _iter_study
from dedup.synth.people import INSTITUTIONS, Patient


def _sample(seed: int) -> tuple[Dataset, bytes]:
    patient = Patient("TESTER^SAMPLE", "BAD0001", "STMARY", date(1970, 1, 1), "O", 0)
    _, ds = next(_iter_study("MR", patient, seed, date(2024, 1, 1), INSTITUTIONS[0], 1, None))
    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return ds, buf.getvalue()


def _multmodp(a: int, b: int) -> int:
    """Multiply two polynomials modulo the reflected CRC-32 polynomial (as zlib does)."""
    product, mask = 0, 1 << 31
    while mask:
        if a & mask:
            product ^= b
        mask >>= 1
        b = (b >> 1) ^ 0xEDB88320 if b & 1 else b >> 1
    return product


def _x8n(n: int) -> int:
    power, result = 1 << 30, 1 << 31  # x^1 and 1
    for _ in range(3):
        power = _multmodp(power, power)  # x^8: one byte
    while n:
        if n & 1:
            result = _multmodp(power, result)
        power, n = _multmodp(power, power), n >> 1
    return result


def _crc32_zeros(size: int) -> int:
    """CRC-32 of ``size`` zero bytes in O(log size) steps (zlib's crc32_combine)."""
    crc, piece, length = 0, zlib.crc32(b"\0"), 1
    while size:
        if size & 1:
            crc = _multmodp(_x8n(length), crc) ^ piece
        piece, length, size = _multmodp(_x8n(length), piece) ^ piece, length * 2, size >> 1
    return crc


def _zip_bomb(path: Path, size: int = 2**31 + 2**24, chunk: int = 2**24) -> None:
    # Raw deflate of zeros; after a full flush every chunk compresses to the same bytes,
    # so the member is built by repetition instead of compressing 2 GiB.
    comp, zeros = zlib.compressobj(9, zlib.DEFLATED, -15), bytes(chunk)
    first = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    tail, count, crc = comp.flush(), size // chunk, _crc32_zeros(size // chunk * chunk)
    packed, name, stamp = len(first) + len(block) * (count - 1) + len(tail), b"scan.dcm", 0x5821
    sizes = (crc, packed, size, len(name))
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, stamp, *sizes, 0)
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, stamp, *sizes, *[0] * 6)
    with open(path, "wb") as fh:
        fh.write(local + name + first)
        for _ in range(count - 1):
            fh.write(block)
        fh.write(tail)
        cd_size = len(central) + len(name)
        end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, cd_size, fh.tell(), 0)
        fh.write(central + name + end)


def _bad_contents(seed: int) -> dict[str, bytes]:
    ds, good = _sample(seed)
    junk = np.random.default_rng(seed).integers(0, 256, 512, dtype=np.uint8).tobytes()
    meta_end = 144 + struct.unpack("<L", good[140:144])[0]  # after the file meta group
    bad_item = struct.pack("<HH2sHLHHL", 8, 0x1110, b"SQ", 0, 0xFFFFFFFF, 0xFFFE, 0xE000, 2**31)
    missing, short = pydicom.dcmread(BytesIO(good)), pydicom.dcmread(BytesIO(good))
    del missing.StudyInstanceUID, missing.SOPInstanceUID
    short.PixelData = short.PixelData[: len(short.PixelData) // 2]
    buffers = {"missing-uid": BytesIO(), "pixel-length": BytesIO()}
    missing.save_as(buffers["missing-uid"], enforce_file_format=True)
    short.save_as(buffers["pixel-length"], enforce_file_format=True)
    return {
        "not-dicom": b"Patient list export\nnot a DICOM file\n",
        "truncated": good[: len(good) - len(ds.PixelData) // 2],
        "corrupt": good[:meta_end] + bad_item + junk,
        "unreadable": good,
    } | {reason: buf.getvalue() for reason, buf in buffers.items()}


def write_bad_inputs(out_dir: Path, *, seed: int = 0) -> dict[str, Path]:
    """Write one broken input per quarantine reason.

    Reasons: ``not-dicom`` (text), ``truncated`` (cut inside the pixel data), ``corrupt``
    (valid file meta, then a sequence item with an impossible length and garbage; pydicom's
    ``dcmread`` raises), ``missing-uid`` (no StudyInstanceUID and
    SOPInstanceUID in the data set), ``pixel-length`` (PixelData half the expected length),
    ``zip-bomb`` (a ~2 MB zip whose single member inflates to more than 2 GiB) and
    ``unreadable`` (mode 000; root can still read it).

    Args:
        out_dir: Folder to write into (created if missing).
        seed: Seed of the valid MR image the broken files are made from.

    Returns:
        Mapping of reason to the written path.

    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reasons = ("not-dicom", "truncated", "corrupt", "missing-uid", "pixel-length", "unreadable")
    paths = {reason: out / f"{reason}.dcm" for reason in reasons}
    for reason, content in _bad_contents(seed).items():
        if paths[reason].exists():
            os.chmod(paths[reason], 0o600)
        paths[reason].write_bytes(content)
    os.chmod(paths["unreadable"], 0)
    paths["zip-bomb"] = out / "zip-bomb.zip"
    _zip_bomb(paths["zip-bomb"])
    return paths
