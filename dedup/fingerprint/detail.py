"""The acquisition signature: fine structure and noise of one image, in 128 bytes.

A lossy copy (JPEG, JPEG 2000, fewer bits, half the resolution) keeps the fine structure and
the noise of the image it was made from; a new acquisition of the same anatomy, on the same
device with the same protocol, does not: its noise is new and the patient lies a little
elsewhere. The perceptual hash (:mod:`dedup.fingerprint.phash`) cannot tell the two apart,
this signature can.

How: the middle frame is reduced to a 128 x 128 grid of area means (so a copy at half the
resolution lands on the same grid), the local mean of every inner cell's 3 x 3 neighbourhood
is subtracted (what is left is detail and noise, not anatomy's broad shape), and the residual
is summarised by :data:`BITS` signs of random projections (SimHash). The share of differing
bits estimates the angle between two residuals, so :func:`similarity` returns an estimate of
their correlation: about 1 for a copy, about 0 for another acquisition.

The random projections are a fixed sign flip followed by a real FFT (a structured
Johnson-Lindenstrauss transform): a few hundred microseconds per image, and the same bits on
every machine because the signs come from a fixed seed.
"""

from __future__ import annotations

import math

import numpy as np

GRID = 128
BITS = 1024
SIZE = BITS // 8
_SEED = 0x5EED_DE7A11
_rng = np.random.default_rng(_SEED)
_INNER = (GRID - 2) ** 2  # cells with a whole 3 x 3 neighbourhood
_SIGNS = _rng.choice(np.array([-1.0, 1.0]), _INNER)
#: FFT coefficients kept (real and imaginary parts): skip 0 (the mean, which is 0).
_PICK = np.sort(_rng.choice(np.arange(1, _INNER // 2), BITS // 2, replace=False))
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint16)


def detail_signature(pixels: np.ndarray) -> bytes | None:
    """Return the signature of a canonical (frames, rows, cols, samples) array.

    Returns ``None`` for images smaller than 32 x 32 pixels and for a middle frame without
    any detail (uniform, or a smooth gradient).
    """
    if pixels.ndim != 4:
        return None
    frame = pixels[pixels.shape[0] // 2]
    rows, cols = frame.shape[:2]
    if rows < GRID // 4 or cols < GRID // 4:
        return None
    grid = _area_means(frame)
    residual = grid[1:-1, 1:-1] - _local_mean(grid)
    residual -= residual.mean()
    norm = float(np.sqrt(np.square(residual).sum()))
    if norm <= 1e-9 * (float(np.abs(grid).max()) + 1.0) * GRID:
        return None
    spectrum = np.fft.rfft(residual.ravel() * _SIGNS)[_PICK]
    bits = np.concatenate([spectrum.real >= 0, spectrum.imag >= 0])
    return np.packbits(bits).tobytes()


def similarity(a: bytes, b: bytes) -> float:
    """Estimated correlation of two images' detail (-1..1; a lossy copy is near 1).

    Raises:
        ValueError: a signature is not :data:`SIZE` bytes long.

    """
    if len(a) != SIZE or len(b) != SIZE:
        raise ValueError(f"detail signatures are {SIZE} bytes, got {len(a)} and {len(b)}; "
                         "re-index the studies fingerprinted by an older dedup")
    differing = int(_POPCOUNT[np.frombuffer(a, "u1") ^ np.frombuffer(b, "u1")].sum())
    return math.cos(math.pi * differing / BITS)


def _area_means(frame: np.ndarray) -> np.ndarray:
    """Means of a GRID x GRID partition of the frame (colour averaged), as float64.

    Frames at least GRID pixels a side are summed per cell in one pass; smaller frames have
    cells smaller than a pixel, whose means come from the integral image at fractional edges
    (so a copy at half the size still lands on the same grid).
    """
    rows, cols = frame.shape[:2]
    data = frame[:, :, 0] if frame.shape[2] == 1 else frame.mean(axis=2)
    if rows >= GRID and cols >= GRID:
        row_edges, col_edges = _edges(rows), _edges(cols)
        sums = np.add.reduceat(data, col_edges, axis=1, dtype=np.float64)
        sums = np.add.reduceat(sums, row_edges, axis=0)
        return sums / np.outer(np.diff([*row_edges, rows]), np.diff([*col_edges, cols]))
    integral = np.zeros((rows + 1, cols + 1))
    integral[1:, 1:] = data.astype(np.float64).cumsum(0).cumsum(1)
    along_rows = _interpolate(integral, np.linspace(0, rows, GRID + 1), axis=0)
    corners = _interpolate(along_rows, np.linspace(0, cols, GRID + 1), axis=1)
    cells = np.diff(np.diff(corners, axis=0), axis=1)
    return cells / ((rows / GRID) * (cols / GRID))


def _interpolate(values: np.ndarray, at: np.ndarray, axis: int) -> np.ndarray:
    """Linear interpolation of ``values`` at fractional positions along one axis."""
    low = np.minimum(at.astype(np.intp), values.shape[axis] - 2)
    weight = np.expand_dims(at - low, 1 - axis)
    return np.take(values, low, axis) * (1 - weight) + np.take(values, low + 1, axis) * weight


def _edges(length: int) -> np.ndarray:
    return (np.arange(GRID) * length) // GRID


def _local_mean(grid: np.ndarray) -> np.ndarray:
    """Mean of each inner cell's 3 x 3 neighbourhood ((GRID - 2) x (GRID - 2))."""
    inner = GRID - 2
    total = sum(grid[dy:dy + inner, dx:dx + inner] for dy in range(3) for dx in range(3))
    return np.asarray(total) / 9.0
