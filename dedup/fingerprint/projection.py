"""Separable random projections of small arrays, the same bits on every machine.

``left @ (mask * x) @ right``: rows of Sylvester Hadamard matrices on each side, a random
sign mask between, all drawn from the raw PCG64 stream of fixed seeds (numpy's generators'
streams may change between versions, the raw bits do not). The acquisition signature
(:mod:`dedup.fingerprint.detail`) keeps their signs (SimHash) or their values.
"""

from __future__ import annotations

import math

import numpy as np

#: (sign mask, left, right) of one projection
Projection = tuple[np.ndarray, np.ndarray, np.ndarray]


def projection(seed: int, inner: int, pad: int, side: int) -> Projection:
    """A separable projection of an ``inner`` x ``inner`` array: (sign mask, left, right).

    ``left @ (mask * x) @ right`` gives ``side`` x ``side`` projections of ``x``, laid out
    with ``pad`` zero columns (the padding of :func:`dedup.fingerprint.grid.residual`, which
    the mask and ``right`` zero). The mask scrambles the image's rows and columns, so that
    two sides of ``side`` rows estimate a correlation about as well as ``side ** 2``
    independent projections.
    """
    mask = np.zeros((inner, inner + pad), np.float32)
    mask[:, :inner] = _signs(seed, (inner, inner))
    right = np.zeros((inner + pad, side), np.float32)
    right[:inner] = _hadamard_rows(seed + 4, side, inner).T
    return mask, _hadamard_rows(seed + 2, side, inner), right


def project(values: np.ndarray, projection: Projection) -> np.ndarray:
    """The separable projections of ``values`` (which the mask multiplies in place)."""
    mask, left, right = projection
    values *= mask
    return left @ values @ right


def simhash(values: np.ndarray, projection: Projection) -> bytes:
    """The signs of the projections of ``values`` (multiplied in place), packed."""
    return np.packbits(project(values, projection) >= 0).tobytes()


def _signs(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """±1 (float32) from the raw bits of PCG64: stable across numpy versions."""
    count = math.prod(shape)
    raw = np.random.PCG64(seed).random_raw((count + 63) // 64).astype("<u8")
    bits = np.unpackbits(raw.view(np.uint8), bitorder="little")[:count]
    return (bits.astype(np.float32) * 2 - 1).reshape(shape)


def _hadamard_rows(seed: int, count: int, width: int) -> np.ndarray:
    """``count`` rows of a Sylvester Hadamard matrix, ``width`` columns of it sign-flipped.

    Near-orthogonal ±1 projections (float32): they estimate a correlation with less spread
    than independent random ones.
    """
    order = 1 << (width - 1).bit_length()
    rows = np.argsort(np.random.PCG64(seed).random_raw(order), kind="stable")[:count]
    parity = np.bitwise_and.outer(rows.astype(np.int64), np.arange(width, dtype=np.int64))
    for shift in (16, 8, 4, 2, 1):
        parity ^= parity >> shift
    return (1 - 2 * (parity & 1)).astype(np.float32) * _signs(seed + 1, (width,))
