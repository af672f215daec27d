"""Grids of area sums are exact: the adder picked for speed never changes a sum."""

from __future__ import annotations

import numpy as np
import pytest

from dedup.fingerprint.grid import area_sums, block_sums, magnitude


def _frame(rows: int, cols: int, samples: int, dtype: str, low: int, high: int) -> np.ndarray:
    rng = np.random.default_rng(rows * cols + samples)
    return rng.integers(low, high, (rows, cols, samples), endpoint=True).astype(dtype)


def _exact_sums(frame: np.ndarray, grid: int) -> np.ndarray:
    """Cell sums in int64, cells of whole pixels with floor edges (the reference)."""
    rows, cols, _ = frame.shape
    edges_r, edges_c = (np.arange(grid + 1) * rows) // grid, (np.arange(grid + 1) * cols) // grid
    whole = frame.astype(np.int64).sum(axis=2)
    return np.array([[whole[edges_r[i]:edges_r[i + 1], edges_c[j]:edges_c[j + 1]].sum()
                      for j in range(grid)] for i in range(grid)])


@pytest.mark.parametrize(("rows", "cols", "samples", "dtype", "low", "high"), [
    (512, 512, 1, "int16", -1024, 3071), (512, 512, 1, "int16", -32768, 32767),
    (256, 256, 1, "uint16", 0, 65535), (1024, 768, 1, "uint16", 0, 4095),
    (300, 260, 1, "uint16", 0, 65535), (480, 640, 3, "uint8", 0, 255),
    (130, 1000, 1, "int8", -128, 127), (777, 513, 1, "uint16", 0, 20000),
])
def test_cell_sums_are_exact_whatever_adder(rows: int, cols: int, samples: int, dtype: str,
                                            low: int, high: int) -> None:
    frame = _frame(rows, cols, samples, dtype, low, high)
    sums = _exact_sums(frame, 128)
    if rows % 128 or cols % 128:  # cells of unequal size: means
        sizes = np.outer(np.diff((np.arange(129) * rows) // 128),
                         np.diff((np.arange(129) * cols) // 128) * samples)
        expected = (sums.astype(np.float32) / sizes).astype(np.float32)
    else:
        expected = sums.astype(np.float32)
    top = magnitude(frame)
    for known in (None, top, 65535 if dtype in ("int16", "uint16") else None):
        got = area_sums(frame, 128, known)
        assert got.dtype == np.float32 and got.tobytes() == expected.tobytes()


def test_block_sums_take_a_frame_s_magnitude_for_a_part_of_it() -> None:
    frame = _frame(512, 512, 1, "uint16", 0, 40000).reshape(512, 512)
    frame[:64] = 7  # the crop's own values are smaller than the frame's
    crop = frame[200:456, 128:384]
    expected = crop.astype(np.int64).reshape(128, 2, 128, 2).sum(axis=(1, 3)).astype(np.float32)
    for top in (None, magnitude(crop), magnitude(frame)):
        assert block_sums(crop, 2, 2, top).tobytes() == expected.tobytes()
    assert magnitude(np.array([[-300, 200]], np.int16)) == 300
    assert magnitude(np.array([[3, 200]], np.uint16)) == 200
    assert magnitude(frame.astype(np.float32)) is None
