"""Seed files and DICOM-aware byte mutations shared by the atheris harness and the CI test.

A mutation is a list of ``(op, position, value)`` operations applied in order, so the
hypothesis test can shrink and print them and a crash is reproducible from its operations.
"""

from __future__ import annotations

import os
import random
import struct
import tempfile
from collections.abc import Sequence
from pathlib import Path

from dedup.config import Settings
from dedup.fingerprint.instance import fingerprint_location
from dedup.records import Instance, Location, Quarantined

#: Small files shipped inside pydicom's wheel: every transfer syntax family the reader meets.
SHIPPED = ("CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm",
           "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "JPEG2000.dcm", "JPEG-lossy.dcm",
           "SC_rgb_rle.dcm", "SC_rgb_small_odd.dcm", "SC_rgb_jpeg_gdcm.dcm",
           "SC_ybr_full_422_uncompressed.dcm", "image_dfl.dcm", "rtplan.dcm", "rtdose.dcm",
           "no_meta.dcm", "ExplVR_BigEnd.dcm")
#: Values that break length and count fields.
INTERESTING = (0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF, 0x10000,
               0x7FFFFFFF, 0x80000000, 0xFFFFFFF0, 0xFFFFFFFE, 0xFFFFFFFF)
VRS = (b"SQ", b"UN", b"OB", b"OW", b"US", b"UI", b"DS", b"PN", b"zz", b"\0\0")
HEADER_BYTES = 2048  # most mutations land in the header, where the parser works
OPS = ("set-byte", "truncate", "set-u16", "set-u32", "insert", "delete", "set-vr")
Op = tuple[int, int, int]  # (index into OPS, position, value)


def seeds() -> dict[str, bytes]:
    """The seed files by name: pydicom's shipped files (no download needed)."""
    from pydicom.data import get_testdata_file

    out = {}
    for name in SHIPPED:
        path = get_testdata_file(name, download=False)
        if path:
            out[name] = Path(path).read_bytes()
    return out


def apply_ops(data: bytes, ops: Sequence[Op]) -> bytes:
    """Apply mutation operations; positions wrap around the (header of the) data."""
    buf = bytearray(data)
    for op, position, value in ops:
        size = max(len(buf), 1)
        pos = position % min(size, HEADER_BYTES) if position < 1 << 20 else position % size
        name = OPS[op % len(OPS)]
        if name == "set-byte" and buf:
            buf[pos % len(buf)] = value & 0xFF
        elif name == "truncate":
            del buf[pos:]
        elif name in ("set-u16", "set-u32"):
            fmt, mask = ("<H", 0xFFFF) if name == "set-u16" else ("<I", 0xFFFFFFFF)
            packed = struct.pack(fmt, INTERESTING[value % len(INTERESTING)] & mask)
            buf[pos:pos + len(packed)] = packed
        elif name == "insert":
            buf[pos:pos] = value.to_bytes(4, "little")[: 1 + value % 4]
        elif name == "delete":
            del buf[pos:pos + 1 + value % 8]
        elif name == "set-vr":
            buf[pos:pos + 2] = VRS[value % len(VRS)]
    return bytes(buf)


def random_ops(rng: random.Random) -> list[Op]:
    """One to four random operations, mostly in the header."""
    return [(rng.randrange(len(OPS)),
             rng.randrange(HEADER_BYTES) if rng.random() < 0.8 else rng.randrange(1 << 24),
             rng.randrange(1 << 32)) for _ in range(rng.randint(1, 4))]


class Reader:
    """Writes inputs to one scratch file and reads them like the indexer does."""

    def __init__(self) -> None:
        folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
        handle, self.path = tempfile.mkstemp(suffix=".dcm", dir=folder)
        os.close(handle)
        self.settings = Settings(workers=1)

    def read(self, data: bytes) -> Instance | Quarantined:
        """Fingerprint ``data``; raises only if the reader has a bug.

        Raises:
            AssertionError: the result is neither an Instance nor a Quarantined.

        """
        with open(self.path, "wb") as fh:
            fh.write(data)
        stat = os.stat(self.path)
        location = Location(self.path, None, stat.st_size, stat.st_mtime)
        result = fingerprint_location(location, self.settings)
        assert isinstance(result, Instance | Quarantined), type(result)
        return result

    def close(self) -> None:
        """Remove the scratch file."""
        Path(self.path).unlink(missing_ok=True)
