"""The acquisition signature's bytes, and sets of signatures unpacked for comparison.

A signature (:mod:`dedup.fingerprint.detail`) is a version byte, the image's rows and
columns, parts of :data:`PART` bytes (structure, alignment, optionally noise) and, in
version 3, the exposure record and how the image is lossy. A :class:`SignatureSet` holds
the parts of many signatures as arrays, parsed once for every comparison of a study: the
structure and noise bits as 64-bit words, whose differing bits a population count gives
exactly, and the alignment parts' int16 values, whose products as multiples of
``1 / UNIT`` are exact in float64 too.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

VERSION, RECORDED = 2, 3  # without and with the exposure record
PART = 128  # bytes per part
BITS = 8 * PART  # sign bits of a SimHash part
ALIGN_DIMS = PART // 2  # int16 projections of the alignment part
HEAD = struct.Struct(">BHH")  # version, rows, columns (capped at 65535)
BASE = HEAD.size + 2 * PART  # structure and alignment; the noise part is optional
TAIL = 9  # version 3: the exposure record (8 bytes), how the image is lossy (1)
UNIT = 4096  # the alignment part's int16 value of 1 (projections of a unit vector: ~N(0, 1))


@dataclass(frozen=True, slots=True)
class SignatureSet:
    """The acquisition signatures of some images, unpacked once for many comparisons.

    Made by :func:`signature_set`; :func:`dedup.fingerprint.detail.copy_partners` takes it
    in place of the signatures, so a study compared with many others is parsed once (its
    bits stay packed: a set weighs what its signatures do).
    """

    structure: np.ndarray  # (PART / 8, n) uint64: the structure parts' bits, word by word
    noisy: np.ndarray  # (k,) intp: the images with a noise part
    noise: np.ndarray  # (PART / 8, k) uint64: their noise parts' bits
    kinds: np.ndarray  # (sizes, 2) int64: the distinct (rows, columns)
    kind: np.ndarray  # (n,) intp: each image's size in ``kinds``
    coarse: np.ndarray  # (n, ALIGN_DIMS) int16: the alignment parts' values
    squares: np.ndarray  # (n,) float64: their squared norms
    records: np.ndarray  # (n,) int64: the exposure records (0 without one)
    lossy: np.ndarray  # (n,) uint8: how each image is stored lossily

    def __len__(self) -> int:
        return self.structure.shape[1]


def signature_set(signatures: Sequence[bytes] | SignatureSet) -> SignatureSet:
    """The signatures unpacked for comparison (a set is returned as it is).

    Raises:
        ValueError: a signature is not a dedup acquisition signature of this version.

    """
    if isinstance(signatures, SignatureSet):
        return signatures
    lengths = [parts_length(s) for s in signatures]
    for s, length in zip(signatures, lengths, strict=True):
        if length not in (BASE, BASE + PART):
            part(s, 0)  # raises, naming what it got
    parts = np.frombuffer(b"".join(s[HEAD.size:BASE] for s in signatures), np.uint8
                          ).reshape(len(signatures), 2 * PART)
    noisy = np.array([i for i, n in enumerate(lengths) if n != BASE], np.intp)
    noise = b"".join(signatures[i][BASE:BASE + PART] for i in noisy)
    sizes = np.array([HEAD.unpack_from(s)[1:] for s in signatures], np.int64).reshape(-1, 2)
    kinds, kind = np.unique(sizes, axis=0, return_inverse=True)
    coarse = parts[:, PART:].copy().view(">i2").astype(np.int16)
    unit = _unit_scaled(coarse)
    tails = [s[-TAIL:] if s[0] == RECORDED else bytes(TAIL) for s in signatures]
    return SignatureSet(
        words(parts[:, :PART].tobytes()), noisy, words(noise), kinds,
        kind.ravel(), coarse, (unit * unit).sum(1),
        np.array([int.from_bytes(t[:8], "big", signed=True) for t in tails], np.int64),
        np.array([t[8] for t in tails], np.uint8))


def part(signature: bytes, index: int) -> bytes:
    """Part ``index`` (0 structure, 1 alignment, 2 noise) of a signature.

    Raises:
        ValueError: a signature is not a dedup acquisition signature of this version.

    """
    if parts_length(signature) not in (BASE, BASE + PART):
        raise ValueError(f"acquisition signatures are {BASE} or {BASE + PART} bytes starting "
                         f"with {VERSION}, or {TAIL} more starting with {RECORDED}, not "
                         f"{len(signature)} bytes starting with "
                         f"{signature[:1].hex() or 'nothing'}; re-index the studies "
                         "fingerprinted by an older dedup")
    start = HEAD.size + index * PART
    return signature[start:start + PART]


def parts_length(signature: bytes) -> int:
    """The signature's length without its exposure record (-1 for an unknown version)."""
    version = signature[0] if signature else -1
    return {VERSION: len(signature), RECORDED: len(signature) - TAIL}.get(version, -1)


def has_noise(signature: bytes) -> bool:
    """Whether a signature has a noise part."""
    return parts_length(signature) == BASE + PART


def words(bits: bytes) -> np.ndarray:
    """Rows of :data:`PART` bytes as (PART / 8, rows) 64-bit words, word by word."""
    return np.ascontiguousarray(np.frombuffer(bits, np.uint64).reshape(-1, PART // 8).T)


def bit_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Differing bits (int32) between every column of words ``a`` and every one of ``b``.

    Counted with XOR and population count (no floating point, no BLAS threads): for a few
    images all words in one pass, else word by word (no large temporary).
    """
    if a.shape[1] * b.shape[1] <= _ONE_PASS:
        return _popcount(a[:, :, None] ^ b[:, None, :]).sum(axis=0, dtype=np.int32)
    out = np.zeros((a.shape[1], b.shape[1]), np.uint16)
    for word_a, word_b in zip(a, b, strict=True):
        out += _popcount(word_a[:, None] ^ word_b[None, :])
    return out.astype(np.int32)


_ONE_PASS = 1024  # image pairs up to which all words are counted at once (about 10x faster)
_BYTE_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(1, np.uint8)


def _popcount(words: np.ndarray) -> np.ndarray:
    """The set bits of each 64-bit word (numpy 1.x has no ``bitwise_count``: a byte table)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(words)
    return _BYTE_BITS[words.view(np.uint8)].reshape(*words.shape, 8).sum(-1, np.uint8)


def set_alignments(x: SignatureSet, y: SignatureSet) -> np.ndarray:
    """Estimated correlation of the coarse content of every image of ``x`` and of ``y``.

    1 - correlation is half the squared distance of the unit residuals, which the
    projections keep on average (an image without coarse content aligns with nothing).
    Exact in any order of summation: the values are int16 / 2**12, so products and their
    sums are multiples of 2**-24 below 2**13, which float64 holds exactly.
    """
    squares_x, squares_y = x.squares[:, None], y.squares[None, :]
    distances = squares_x + squares_y - 2 * (_unit_scaled(x.coarse) @ _unit_scaled(y.coarse).T)
    return np.where((squares_x > 0) & (squares_y > 0), 1 - distances / (2 * ALIGN_DIMS), 0.0)


def pair_alignments(x: SignatureSet, i: np.ndarray, y: SignatureSet, j: np.ndarray
                     ) -> np.ndarray:
    """:func:`_set_alignments` of the pairs (``x[i]``, ``y[j]``) only (the same values)."""
    squares_x, squares_y = x.squares[i], y.squares[j]
    products = _unit_scaled(x.coarse[i]) * _unit_scaled(y.coarse[j])
    distances = squares_x + squares_y - 2 * products.sum(axis=1)
    return np.where((squares_x > 0) & (squares_y > 0), 1 - distances / (2 * ALIGN_DIMS), 0.0)


def _unit_scaled(values: np.ndarray) -> np.ndarray:
    """Alignment values as float64 multiples of :data:`UNIT` (kept as int16: a quarter)."""
    return values.astype(np.float64) / UNIT
