"""Canonical pixel data and its hash.

The same image must hash the same whether it is stored uncompressed (little or big endian,
with or without a padding byte) or losslessly compressed (JPEG lossless, JPEG 2000 lossless,
RLE). The canonical form is the stored values as a little-endian array of the width
BitsAllocated gives, shaped (frames, rows, columns, samples), colour interleaved. Native
little-endian data already is that form, so it is hashed in place without decoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import xxhash


class PixelLengthError(ValueError):
    """Pixel Data holds fewer or more bytes than Rows x Columns x frames x samples needs."""


@dataclass(frozen=True, slots=True)
class PixelFormat:
    """The attributes that give pixel data its shape and type."""

    rows: int
    columns: int
    frames: int = 1
    samples: int = 1
    bits_allocated: int = 16
    pixel_representation: int = 0
    planar_configuration: int = 0

    @property
    def pixels(self) -> int:
        """Values per image set: rows x columns x frames x samples."""
        return self.rows * self.columns * self.frames * self.samples

    @property
    def expected_length(self) -> int:
        """Bytes of native pixel data, without the padding byte."""
        if self.bits_allocated == 1:
            return (self.pixels + 7) // 8
        return self.pixels * (self.bits_allocated // 8)

    @property
    def dtype(self) -> np.dtype:
        """The canonical little-endian numpy type."""
        return _dtype(self.bits_allocated, bool(self.pixel_representation))

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """Canonical array shape."""
        return (self.frames, self.rows, self.columns, self.samples)


@lru_cache(maxsize=64)
def _dtype(bits_allocated: int, signed: bool) -> np.dtype:
    if bits_allocated == 1:
        return np.dtype("u1")
    return np.dtype(f"<{'i' if signed else 'u'}{max(bits_allocated // 8, 1)}")


def native_pixels(fmt: PixelFormat, raw: memoryview | bytes) -> np.ndarray:
    """Return the canonical array of native little-endian pixel data, without copying.

    Args:
        fmt: shape and type.
        raw: the Pixel Data value.

    Raises:
        PixelLengthError: the value does not hold exactly the image (plus one padding byte).

    """
    need, have = fmt.expected_length, len(raw)
    if have != need and have != need + (need & 1):
        raise PixelLengthError(f"pixel data has {have} bytes, Rows x Columns x frames x "
                               f"samples x bits needs {need}")
    if fmt.bits_allocated == 1:
        return np.frombuffer(raw, dtype="u1", count=need)
    flat = np.frombuffer(raw, dtype=fmt.dtype, count=fmt.pixels)
    if fmt.samples > 1 and fmt.planar_configuration == 1:
        planes = flat.reshape(fmt.frames, fmt.samples, fmt.rows, fmt.columns)
        return np.ascontiguousarray(planes.transpose(0, 2, 3, 1))
    return flat.reshape(fmt.shape)


def canonical(fmt: PixelFormat, decoded: np.ndarray) -> np.ndarray:
    """Bring a decoder's array (e.g. pydicom ``pixel_array``) into the canonical form."""
    if fmt.bits_allocated == 1:
        return np.packbits(decoded.astype("u1").ravel(), bitorder="little")
    return np.ascontiguousarray(decoded, dtype=fmt.dtype).reshape(fmt.shape)


def pixel_hash(fmt: PixelFormat, pixels: np.ndarray) -> bytes:
    """Return the 128-bit xxh3 hash of the canonical pixels, bound to their format.

    Contiguous pixels (native data in the file's own buffer, or a decoder's array) are
    hashed where they lie, without a copy.
    """
    h = xxhash.xxh3_128(f"{fmt.rows}x{fmt.columns}x{fmt.frames}x{fmt.samples}:"
                        f"{fmt.dtype.str}".encode())
    h.update(pixels.data.cast("B") if pixels.flags.c_contiguous else pixels.tobytes())
    return h.digest()


def is_constant(pixels: np.ndarray) -> bool:
    """Whether every stored value is the same (a blank frame, a uniform test image).

    Such an image says nothing about who was imaged: it gets no acquisition signature and
    its pixel hash is left out when studies are compared. A sparse sample rules out almost
    every real image before the full pass.
    """
    flat = pixels.reshape(-1)
    if flat.size == 0:
        return False
    sample = flat[:: max(1, flat.size // 1024)]
    if pixels.dtype.kind in "iub":  # integers: equal values are equal bytes
        first = sample[:1].tobytes()
        if sample.tobytes() != first * len(sample):
            return False
    elif sample.min() != sample.max():
        return False
    return bool(flat.min() == flat.max())
