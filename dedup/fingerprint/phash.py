"""A small perceptual hash that survives lossy compression and mild resampling.

Block means on a 16 x 16 grid of the middle frame, thresholded at their median: 256 bits.
Lossy codecs change pixels but hardly block means, so copies stay within a few bits while a
new acquisition (other noise, other position) differs in many. A uniform frame (all block
means equal) has no hash: it would be all zeros and look like every other blank frame.
"""

from __future__ import annotations

import numpy as np

GRID = 16
BITS = GRID * GRID
_MAX_SIDE = 64  # subsample larger images to ~64 x 64 before block means: cheap and stable


def phash(pixels: np.ndarray) -> bytes | None:
    """Return the 32-byte hash of a canonical (frames, rows, cols, samples) array.

    Returns ``None`` for images too small to hash (fewer than 16 x 16 pixels) and for a
    uniform middle frame.
    """
    if pixels.ndim != 4:
        return None
    frame = pixels[pixels.shape[0] // 2]
    rows, cols = frame.shape[:2]
    if rows < GRID or cols < GRID:
        return None
    step = max(1, min(rows, cols) // _MAX_SIDE)
    sample = frame[::step, ::step]
    sample = sample[:, :, 0] if sample.shape[2] == 1 else sample.mean(axis=2)
    h, w = (sample.shape[0] // GRID) * GRID, (sample.shape[1] // GRID) * GRID
    sample = sample[:h, :w].astype(np.float64)
    blocks = np.add.reduceat(np.add.reduceat(sample, _starts(w), axis=1), _starts(h), axis=0)
    if blocks.min() == blocks.max():
        return None
    threshold = np.partition(blocks.ravel(), BITS // 2)[BITS // 2]  # the upper median
    return np.packbits(blocks > threshold).tobytes()


def _starts(length: int) -> np.ndarray:
    return np.arange(0, length, length // GRID)


def distance(a: bytes, b: bytes) -> int:
    """Hamming distance between two hashes (0..256)."""
    return int(np.unpackbits(np.frombuffer(a, "u1") ^ np.frombuffer(b, "u1")).sum())
