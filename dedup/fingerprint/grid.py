"""Grids of area sums and their residuals, in float32, for the acquisition signature.

A frame is summed over the cells of a grid by adding whole strided slices (one pass over the
pixels, no per-pixel float copy); small integers are added in 16 bits where the cells' sums
fit, anything else in float32, where sums of integers stay exact up to 2**24. A uniform or
linear image thus has a residual of exactly zero, and a copy's grid differs from its
source's only by what the copy changed. Colour samples are summed with their pixel (a cell's
columns times its samples).
"""

from __future__ import annotations

import functools
import math

import numpy as np


def area_sums(frame: np.ndarray, grid: int, top: int | None = None) -> np.ndarray:
    """A (rows, cols, samples) frame reduced to ``grid`` x ``grid`` cells, as float32.

    Frames whose sides ``grid`` divides give cell sums; other frames give cell means, from
    cells of unequal whole pixels (frames at least ``grid`` pixels a side) or from the
    integral image at fractional edges (smaller frames: a copy at half the size still lands
    on the same grid). Only ratios of the values matter to their users. ``top``: the
    frame's :func:`magnitude`, if known (it only picks the adder, never changes a sum).
    """
    rows, cols, samples = frame.shape
    data = frame.reshape(rows, cols * samples)
    if rows >= grid and cols >= grid:
        sums = _row_sums(data, grid, top).astype(np.float32, copy=False)
        sums = _column_sums(sums, cols, samples, grid)
        if rows % grid or cols % grid:
            sums /= np.outer(_sizes(rows, grid), _sizes(cols, grid) * samples)
        return sums
    integral = np.zeros((rows + 1, cols + 1))
    integral[1:, 1:] = data.reshape(rows, cols, samples).mean(axis=2).cumsum(0).cumsum(1)
    along_rows = _interpolate(integral, np.linspace(0, rows, grid + 1), axis=0)
    corners = _interpolate(along_rows, np.linspace(0, cols, grid + 1), axis=1)
    return np.diff(np.diff(corners, axis=0), axis=1).astype(np.float32)


def block_sums(data: np.ndarray, down: int, across: int | None = None,
               top: int | None = None) -> np.ndarray:
    """Sums (float32) of ``down`` x ``across`` blocks of a 2-D array whose sides they divide.

    ``top``: at least the data's :func:`magnitude` (that of a frame it is part of will do).
    """
    across = across or down
    sums = _strided_rows(data, down, top).astype(np.float32, copy=False)
    if across == 1:
        return sums
    return (sums.reshape(-1, across) @ np.ones(across, np.float32)).reshape(len(sums), -1)


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


def magnitude(data: np.ndarray) -> int | None:
    """The largest absolute value of 16-bit integer data (``None`` for any other type).

    What decides whether sums of a few values fit 16 bits; computed once per frame.
    """
    if data.dtype.kind not in "ui" or data.dtype.itemsize != 2:
        return None
    if data.dtype.kind == "u":
        return int(data.max())
    return max(int(data.max()), -int(data.min()))


def _row_sums(data: np.ndarray, grid: int, top: int | None) -> np.ndarray:
    """Sums of the rows of each of ``grid`` cells (whole rows, floor edges).

    Cells of unequal rows repeat every ``rows / gcd(rows, grid)`` rows: a short period is
    added row by row of it (strided views), a long one cell row by cell row (gathers).
    """
    rows = len(data)
    if rows % grid == 0:
        return _strided_rows(data, rows // grid, top)
    sizes = _sizes(rows, grid)
    accumulator = _accumulator(data, int(sizes.max()), top)
    period, cells = rows // math.gcd(rows, grid), grid // math.gcd(rows, grid)
    if period <= 64:
        out = np.zeros((grid, data.shape[1]), accumulator)
        for row, cell in enumerate(np.repeat(np.arange(cells), sizes[:cells])):
            out[cell::cells] += data[row::period]
        return out
    starts = np.cumsum(sizes) - sizes
    short = int(sizes.min())
    out = data[starts].astype(accumulator)
    for k in range(1, short):
        out += data[starts + k]
    longer = sizes > short  # cells one row longer
    out[longer] += data[starts[longer] + short]
    return out


def _strided_rows(data: np.ndarray, down: int, top: int | None) -> np.ndarray:
    """Sums of ``down`` consecutive rows: in 16-bit integers where they cannot overflow."""
    if down == 1:
        return data
    out = data[0::down].astype(_accumulator(data, down, top))
    for k in range(1, down):
        out += data[k::down]
    return out


def _column_sums(sums: np.ndarray, cols: int, samples: int, grid: int) -> np.ndarray:
    """Sums of ``grid`` cells of columns (of ``samples`` values each) of float32 rows.

    The cells repeat every ``cols / gcd(cols, grid)`` columns, so one small matrix of ones
    adds the runs of every period (a matrix-vector product when ``grid`` divides ``cols``).
    """
    ones = _period(cols, samples, grid)
    return (sums.reshape(-1, len(ones)) @ ones).reshape(len(sums), grid)


@functools.lru_cache(maxsize=32)
def _period(cols: int, samples: int, grid: int) -> np.ndarray:
    """Which cell of a period each of its values adds to (ones; a vector for one cell)."""
    periods = math.gcd(cols, grid)
    cells, width = grid // periods, cols // periods
    if cells == 1:
        return np.ones(width * samples, np.float32)
    cell = np.repeat(np.searchsorted((np.arange(cells) * width) // cells, np.arange(width),
                                     side="right") - 1, samples)
    ones = np.zeros((width * samples, cells), np.float32)
    ones[np.arange(width * samples), cell] = 1
    return ones


def _accumulator(data: np.ndarray, count: int, top: int | None) -> type[np.generic]:
    """16-bit integers if sums of ``count`` values of 8- or 16-bit ``data`` fit them.

    Either way the sums are exact (float32 holds integers to 2**24): this only picks the
    faster adder.
    """
    kind = data.dtype.kind
    if kind not in "ui" or data.dtype.itemsize > 2:
        return np.float32
    if data.dtype.itemsize == 1:  # no need to look
        top = 255 if kind == "u" else 128
    elif top is None:
        top = magnitude(data)
        assert top is not None
    if top * count < (1 << 16 if kind == "u" else 1 << 15):
        return np.uint16 if kind == "u" else np.int16
    return np.float32


def _interpolate(values: np.ndarray, at: np.ndarray, axis: int) -> np.ndarray:
    """Linear interpolation of ``values`` at fractional positions along one axis."""
    low = np.minimum(at.astype(np.intp), values.shape[axis] - 2)
    weight = np.expand_dims(at - low, 1 - axis)
    return np.take(values, low, axis) * (1 - weight) + np.take(values, low + 1, axis) * weight


def _sizes(length: int, grid: int) -> np.ndarray:
    """Whole-pixel lengths of ``grid`` cells covering ``length`` pixels (floor edges)."""
    return np.diff((np.arange(grid + 1) * length) // grid)
