"""The acquisition signature: an image's fine structure and noise, in 256 bytes.

A lossy copy (JPEG, JPEG 2000, fewer bits, half the resolution) keeps the noise and the fine
structure of the image it was made from, exactly where they were; a new acquisition of the
same anatomy, on the same device with the same protocol, does not: its noise is new and the
patient lies a little elsewhere. A perceptual hash of the coarse image (block means against
their median) cannot tell the two apart; this signature can, and ``near`` is decided on it.

It has two parts, each :data:`BITS` signs of random projections (SimHash) of a residual: an
image minus the local mean of every inner cell's 3 x 3 neighbourhood.

* ``structure``: the middle frame reduced to a 128 x 128 grid of area means (a copy at half
  the resolution lands on the same grid); what is left is edges and texture. A copy, even one
  cut to 8 bits, agrees almost perfectly (0.93 and up measured, nearly all above 0.95); a new
  acquisition of the same person agrees less (0.90 at most: an X-ray retaken with the
  patient a millimetre away), other people far less.
* ``noise``: the central 256 x 256 pixels in 2 x 2 means (128 x 128 single pixels for images
  of 128 to 255 pixels a side, with projections of their own), the residual clipped at three
  robust standard deviations so that edges cannot dominate it; what is left is mostly the
  acquisition's own noise, which a copy of the same size shares (0.62 and up for JPEG 2000
  at 20:1, where the structure of an ultrasound alone falls short, and a copy halved and
  restored to its size) and a new acquisition does not (0.55 at most). Smaller images have
  none.

A copy resampled by a power of two (half the size) has no noise in common with its source
but the geometry backs it: its structure need agree less (``copy_partners``). The signature
starts with the image's rows and columns (4 bytes) for that.

Beside the signature, :func:`look_key` gives 64 bits of the coarse image (32 x 32 means,
normalised): a copy's bits agree with its source's almost everywhere, however its header was
rewritten, so four 16-bit bands of them make candidate pairs by an equi-join
(``look_candidates.sql``), which the signature then verifies.

The share of differing bits estimates the angle between two residuals, so :func:`similarity`
returns an estimate of their correlation. The projections are a fixed sign flip followed by a
real FFT (a structured Johnson-Lindenstrauss transform): the same bits on every machine.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

STRUCTURE_GRID, NOISE_CROP = 128, 256
BITS = 1024
PART = BITS // 8  # bytes per part; a signature is the image size, structure and maybe noise
_SIZE = struct.Struct(">HH")  # rows, columns (capped at 65535)
_CLIP = 3.0
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint16)


def _projection(grid: int, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(seed)
    inner = (grid - 2) ** 2  # cells with a whole 3 x 3 neighbourhood
    size = 1 << (inner - 1).bit_length()  # zero-padded to a power of two: a fast FFT
    signs = rng.choice(np.array([-1.0, 1.0]), inner)
    pick = np.sort(rng.choice(np.arange(1, size // 2), BITS // 2, replace=False))
    return signs, pick, size


LOOK_GRID, LOOK_BITS = 32, 64
_LOOK = np.random.default_rng(0x5EED_100C).standard_normal((LOOK_BITS, LOOK_GRID**2))
_STRUCTURE = _projection(STRUCTURE_GRID, 0x5EED_DE7A11)
#: (crop side, bin) -> projection: one per crop, so noise parts of two sizes never agree
_NOISE = {(NOISE_CROP, 2): _projection(STRUCTURE_GRID, 0x5EED_0015D),
          (STRUCTURE_GRID, 1): _projection(STRUCTURE_GRID, 0x5EED_0015F)}


def acquisition(pixels: np.ndarray) -> tuple[bytes | None, int | None]:
    """The signature and the look key of a canonical (frames, rows, cols, samples) array.

    Both are ``None`` for images smaller than 32 x 32 pixels and for a middle frame without
    any detail (uniform, or a smooth gradient).
    """
    if pixels.ndim != 4:
        return None, None
    frame = pixels[pixels.shape[0] // 2]
    rows, cols = frame.shape[:2]
    if rows < STRUCTURE_GRID // 4 or cols < STRUCTURE_GRID // 4:
        return None, None
    coarse = _area_means(frame, STRUCTURE_GRID)
    structure = _bits(_residual(coarse), _STRUCTURE)
    if structure is None:
        return None, None
    look = look_key(_block_means(coarse, STRUCTURE_GRID // LOOK_GRID))
    head = _SIZE.pack(min(rows, 65535), min(cols, 65535)) + structure
    crop = next(((side, b) for side, b in _NOISE if min(rows, cols) >= side), None)
    if crop is None:
        return head, look
    side, binning = crop
    top, left = (rows - side) // 2 // binning * binning, (cols - side) // 2 // binning * binning
    pixels2d = frame[top:top + side, left:left + side]
    pixels2d = pixels2d[:, :, 0] if pixels2d.shape[2] == 1 else pixels2d.mean(axis=2)
    noise = _bits(_clipped(_residual(_block_means(pixels2d, binning))), _NOISE[crop])
    return head + (noise or b""), look


def detail_signature(pixels: np.ndarray) -> bytes | None:
    """The acquisition signature alone (see :func:`acquisition`)."""
    return acquisition(pixels)[0]


def look_key(small: np.ndarray) -> int | None:
    """64 sign bits of random projections of a normalised 32 x 32 image, as a signed int."""
    values = small.ravel() - small.mean()
    spread = float(values.std())
    if spread == 0 or not math.isfinite(spread):
        return None
    bits = np.packbits(_LOOK @ (values / spread) >= 0)
    return int(np.frombuffer(bits.tobytes(), ">i8")[0])


def similarity(a: bytes, b: bytes) -> float:
    """Estimated correlation of two images' structure (-1..1; a lossy copy is near 1).

    Raises:
        ValueError: a signature is not a dedup acquisition signature.

    """
    return _part_similarity(_part(a, 0), _part(b, 0))


def noise_similarity(a: bytes, b: bytes) -> float | None:
    """Estimated correlation of two images' noise; ``None`` unless both have one of a size.

    Raises:
        ValueError: a signature is not a dedup acquisition signature.

    """
    if not (_has_noise(a) and _has_noise(b)) or size_of(a) != size_of(b):
        return None
    return _part_similarity(_part(a, 1), _part(b, 1))


def size_of(signature: bytes) -> tuple[int, int]:
    """The (rows, columns) of the image a signature was made of.

    Raises:
        ValueError: a signature is not a dedup acquisition signature.

    """
    _part(signature, 0)
    rows, cols = _SIZE.unpack_from(signature)
    return int(rows), int(cols)


def copy_partners(a: Sequence[bytes], b: Sequence[bytes], limits: CopyLimits
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Which image of ``a`` could be a copy of which of ``b``, and their structure agreement.

    Returns a ``len(a) x len(b)`` mask and the estimated structure correlations it was
    decided on (one comparison serves the verdict and the evidence).

    Two images of one size are copy partners when their noise agrees at least
    ``limits.noise``, or their structure at least ``limits.structure`` with their noise at
    least ``limits.noise_support`` (an X-ray retaken a millimetre away keeps the structure
    but has its own noise). One being the other resampled (both sides by one power of two),
    their structure need agree only ``limits.resized``: the geometry, which de-identifiers
    keep, backs the pixels. Images without a comparable noise part go by structure alone.

    Raises:
        ValueError: a signature is not a dedup acquisition signature.

    """
    if not a or not b:
        return np.zeros((len(a), len(b)), dtype=bool), np.zeros((len(a), len(b)))
    differing = _distances([_part(s, 0) for s in a], [_part(s, 0) for s in b])
    alike = differing <= max_differing_bits(limits.structure)
    sizes_a, sizes_b = [size_of(s) for s in a], [size_of(s) for s in b]
    resized = np.array([[_resampled(x, y) for y in sizes_b] for x in sizes_a])
    close = alike | (resized & (differing <= max_differing_bits(limits.resized)))
    noisy_a = [i for i, s in enumerate(a) if _has_noise(s)]
    noisy_b = [j for j, s in enumerate(b) if _has_noise(s)]
    if noisy_a and noisy_b:
        noise = _distances([_part(a[i], 1) for i in noisy_a], [_part(b[j], 1) for j in noisy_b])
        same = np.array([[sizes_a[i] == sizes_b[j] for j in noisy_b] for i in noisy_a])
        block = np.ix_(noisy_a, noisy_b)
        supported = noise <= max_differing_bits(limits.noise_support)
        close[block] = np.where(same, (alike[block] & supported)
                                | (noise <= max_differing_bits(limits.noise)), close[block])
    return close, np.cos(np.pi * differing / BITS)


@dataclass(frozen=True, slots=True)
class CopyLimits:
    """The least agreement of a copy and its source (``Settings.match_near_*``)."""

    structure: float = 0.95
    noise: float = 0.6
    noise_support: float = 0.45
    resized: float = 0.75


def max_differing_bits(min_similarity: float) -> int:
    """The most differing bits of one part for a similarity of at least ``min_similarity``."""
    return int(BITS * math.acos(max(-1.0, min(1.0, min_similarity))) / math.pi)


def _part(signature: bytes, index: int) -> bytes:
    if len(signature) not in (_SIZE.size + PART, _SIZE.size + 2 * PART):
        raise ValueError(f"acquisition signatures are {_SIZE.size + PART} or "
                         f"{_SIZE.size + 2 * PART} bytes, not {len(signature)}; re-index the "
                         "studies fingerprinted by an older dedup")
    start = _SIZE.size + index * PART
    return signature[start:start + PART]


def _has_noise(signature: bytes) -> bool:
    return len(signature) == _SIZE.size + 2 * PART


def _resampled(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether one size is the other scaled by the same power of two on both sides."""
    (small_rows, small_cols), (big_rows, big_cols) = sorted((a, b))
    for factor in (2, 4, 8):
        if abs(big_rows - factor * small_rows) < factor and \
                abs(big_cols - factor * small_cols) < factor:
            return True
    return False


def _part_similarity(a: bytes, b: bytes) -> float:
    differing = int(_POPCOUNT[np.frombuffer(a, "u1") ^ np.frombuffer(b, "u1")].sum())
    return math.cos(math.pi * differing / BITS)


def _distances(a: Sequence[bytes], b: Sequence[bytes]) -> np.ndarray:
    """Differing bits between every part of ``a`` and every part of ``b``."""
    x = np.unpackbits(np.frombuffer(b"".join(a), "u1").reshape(len(a), -1), axis=1)
    y = np.unpackbits(np.frombuffer(b"".join(b), "u1").reshape(len(b), -1), axis=1)
    x, y = x.astype(np.float32), y.astype(np.float32)
    common = x @ y.T
    return np.rint(x.sum(1)[:, None] + y.sum(1)[None, :] - 2 * common).astype(np.int32)


def _residual(grid: np.ndarray) -> np.ndarray:
    """Each inner cell minus the mean of its 3 x 3 neighbourhood (a separable box sum)."""
    rows = grid[:-2] + grid[1:-1] + grid[2:]
    box = rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]
    return grid[1:-1, 1:-1] - box / 9.0


def _clipped(residual: np.ndarray) -> np.ndarray:
    """The residual clipped at a few robust standard deviations (edges cannot dominate)."""
    sample = np.abs(residual.ravel()[::7] - np.median(residual.ravel()[::7]))
    spread = 1.4826 * float(np.median(sample))
    return np.clip(residual, -_CLIP * spread, _CLIP * spread) if spread > 0 else residual


def _bits(residual: np.ndarray, projection: tuple[np.ndarray, np.ndarray, int]) -> bytes | None:
    signs, pick, size = projection
    values = residual.ravel() - residual.mean()
    scale = float(np.abs(values).max())
    if scale <= 1e-9 * (1.0 + float(np.abs(residual).max())) or not math.isfinite(scale):
        return None
    spectrum = np.fft.rfft(values * signs, n=size)[pick]
    return np.packbits(np.concatenate([spectrum.real >= 0, spectrum.imag >= 0])).tobytes()


def _area_means(frame: np.ndarray, grid: int) -> np.ndarray:
    """Means of a grid x grid partition of the frame (colour averaged), as float64.

    Frames at least ``grid`` pixels a side are summed per cell in one pass; smaller frames
    have cells smaller than a pixel, whose means come from the integral image at fractional
    edges (so a copy at half the size still lands on the same grid).
    """
    rows, cols = frame.shape[:2]
    data = frame[:, :, 0] if frame.shape[2] == 1 else frame.mean(axis=2)
    if rows % grid == 0 and cols % grid == 0:  # the usual 256, 512, 1024: strided sums
        return _block_means(data, rows // grid, cols // grid)
    if rows >= grid and cols >= grid:
        row_edges, col_edges = _edges(rows, grid), _edges(cols, grid)
        sums = np.add.reduceat(data, col_edges, axis=1, dtype=np.float64)
        sums = np.add.reduceat(sums, row_edges, axis=0)
        return sums / np.outer(np.diff([*row_edges, rows]), np.diff([*col_edges, cols]))
    integral = np.zeros((rows + 1, cols + 1))
    integral[1:, 1:] = data.astype(np.float64).cumsum(0).cumsum(1)
    along_rows = _interpolate(integral, np.linspace(0, rows, grid + 1), axis=0)
    corners = _interpolate(along_rows, np.linspace(0, cols, grid + 1), axis=1)
    return np.diff(np.diff(corners, axis=0), axis=1) / ((rows / grid) * (cols / grid))


def _block_means(data: np.ndarray, down: int, across: int | None = None) -> np.ndarray:
    """Means of ``down`` x ``across`` blocks of an array whose sides they divide."""
    across = across or down
    rows = data[0::down].astype(np.float64)
    for i in range(1, down):
        rows += data[i::down]
    sums = rows[:, 0::across].copy()
    for j in range(1, across):
        sums += rows[:, j::across]
    return sums / (down * across)


def _interpolate(values: np.ndarray, at: np.ndarray, axis: int) -> np.ndarray:
    """Linear interpolation of ``values`` at fractional positions along one axis."""
    low = np.minimum(at.astype(np.intp), values.shape[axis] - 2)
    weight = np.expand_dims(at - low, 1 - axis)
    return np.take(values, low, axis) * (1 - weight) + np.take(values, low + 1, axis) * weight


def _edges(length: int, grid: int) -> np.ndarray:
    return (np.arange(grid) * length) // grid
