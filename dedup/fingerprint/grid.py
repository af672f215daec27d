"""Grids of area sums and their residuals, in float32, for the acquisition signature.

A frame is summed over the cells of a grid by adding whole strided slices (one pass over the
pixels, no per-pixel float copy); small integers are added in 16 bits where the cells' sums
fit, anything else in float32, where sums of integers stay exact up to 2**24. A uniform or
linear image thus has a residual of exactly zero, and a copy's grid differs from its
source's only by what the copy changed. Colour samples are summed with their pixel (a cell's
columns times its samples).
"""

from __future__ import annotations

import numpy as np


def area_sums(frame: np.ndarray, grid: int) -> np.ndarray:
    """A (rows, cols, samples) frame reduced to ``grid`` x ``grid`` cells, as float32.

    Frames whose sides ``grid`` divides give cell sums; other frames give cell means, from
    cells of unequal whole pixels (frames at least ``grid`` pixels a side) or from the
    integral image at fractional edges (smaller frames: a copy at half the size still lands
    on the same grid). Only ratios of the values matter to their users.
    """
    rows, cols, samples = frame.shape
    data = frame.reshape(rows, cols * samples)
    if rows % grid == 0 and cols % grid == 0:  # the usual 256, 512, 1024: strided sums
        return block_sums(data, rows // grid, cols // grid * samples)
    if rows >= grid and cols >= grid:
        row_sizes, col_sizes = _sizes(rows, grid), _sizes(cols, grid) * samples
        sums = _cell_sums(_cell_sums(data, row_sizes, 0), col_sizes, 1)
        return sums / np.outer(row_sizes, col_sizes).astype(np.float32)
    integral = np.zeros((rows + 1, cols + 1))
    integral[1:, 1:] = data.reshape(rows, cols, samples).mean(axis=2).cumsum(0).cumsum(1)
    along_rows = _interpolate(integral, np.linspace(0, rows, grid + 1), axis=0)
    corners = _interpolate(along_rows, np.linspace(0, cols, grid + 1), axis=1)
    return np.diff(np.diff(corners, axis=0), axis=1).astype(np.float32)


def block_sums(data: np.ndarray, down: int, across: int | None = None) -> np.ndarray:
    """Sums (float32) of ``down`` x ``across`` blocks of a 2-D array whose sides they divide.

    Rows are added as whole strided slices, columns as runs of the flat rows (a
    matrix-vector product with ones).
    """
    across = across or down
    rows = _row_sums(data, down).astype(np.float32, copy=False)
    if across == 1:
        return rows
    return (rows.reshape(-1, across) @ np.ones(across, np.float32)).reshape(len(rows), -1)


def residual(grid: np.ndarray) -> np.ndarray:
    """Nine times each inner cell minus its 3 x 3 neighbourhood sum, in a padded layout.

    For an ``n`` x ``n`` grid the result is ``n - 2`` rows of ``n``: the inner cell (i, j)
    at [i - 1, j - 1], the last two columns zero. Computed on the flat array (contiguous
    passes only): a box sum of three rows, then of three neighbours along the flat row.
    """
    n = grid.shape[1]
    flat = np.ascontiguousarray(grid, dtype=np.float32).ravel()
    rows = flat[:-2 * n] + flat[n:-n]
    rows += flat[2 * n:]
    box = rows[:-2] + rows[1:-1]
    box += rows[2:]
    out = np.empty_like(rows)
    np.multiply(flat[n + 1:-n - 1], np.float32(9), out=out[:-2])
    out[:-2] -= box
    padded = out.reshape(-1, n)
    padded[:, n - 2:] = 0
    return padded


def _row_sums(data: np.ndarray, down: int) -> np.ndarray:
    """Sums of ``down`` consecutive rows: in 16-bit integers where they cannot overflow."""
    if down == 1:
        return data
    out = data[0::down].astype(_accumulator(data, down))
    for k in range(1, down):
        out += data[k::down]
    return out


def _accumulator(data: np.ndarray, count: int) -> type[np.generic]:
    """16-bit integers if sums of ``count`` values of 8- or 16-bit ``data`` fit them."""
    kind = data.dtype.kind
    if kind not in "ui" or data.dtype.itemsize > 2:
        return np.float32
    top = int(data.max()) if kind == "u" else max(int(data.max()), -int(data.min()))
    if top * count < (1 << 16 if kind == "u" else 1 << 15):
        return np.uint16 if kind == "u" else np.int16
    return np.float32


def _cell_sums(data: np.ndarray, sizes: np.ndarray, axis: int) -> np.ndarray:
    """Float32 sums of consecutive runs of rows or columns, ``sizes`` long (two lengths)."""
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out = np.take(data, starts, axis).astype(np.float32)
    for k in range(1, int(sizes.max())):
        part = np.take(data, np.minimum(starts + k, starts + sizes - 1), axis)
        if k < sizes.min():
            out += part
        else:  # only the longer runs have this one
            out += part * np.expand_dims((k < sizes).astype(np.float32), 1 - axis)
    return out


def _interpolate(values: np.ndarray, at: np.ndarray, axis: int) -> np.ndarray:
    """Linear interpolation of ``values`` at fractional positions along one axis."""
    low = np.minimum(at.astype(np.intp), values.shape[axis] - 2)
    weight = np.expand_dims(at - low, 1 - axis)
    return np.take(values, low, axis) * (1 - weight) + np.take(values, low + 1, axis) * weight


def _sizes(length: int, grid: int) -> np.ndarray:
    """Whole-pixel lengths of ``grid`` cells covering ``length`` pixels (floor edges)."""
    return np.diff((np.arange(grid + 1) * length) // grid)
