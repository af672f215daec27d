"""Study signatures: MinHash over header tokens and over instance pixel hashes, LSH bands.

A study's token sets only grow as instances arrive, and MinHash of a union is the
element-wise minimum of the parts' signatures, so signatures are built incrementally and
are the same whatever order (or batch) the instances came in.

The MinHash is datasketch's ``affine32`` scheme (its default since 2.0), written out here
and tested equal to datasketch's: each token's SHA-1 (first 4 bytes, little-endian) is mixed
by the MurmurHash3 finalizer, then permuted by ``a * h + b`` modulo 2**32 with odd ``a``
from numpy's legacy ``RandomState(1)``, whose stream numpy keeps fixed. Written out, the
archive's signatures do not change with the datasketch version installed (1.x used another
scheme), and no run pays for importing SciPy, which datasketch's package imports.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable

import numpy as np
import xxhash

SEED = 1
_EMPTY = np.uint32(0xFFFFFFFF)
_CHUNK = 4096  # tokens hashed against every permutation at once (bounded memory)


def minhash(tokens: Iterable[bytes | str], num_perm: int) -> np.ndarray:
    """Return the MinHash signature (uint32 array) of a token set.

    An empty set gives an all-max signature, which merges neutrally.
    """
    digests = b"".join(hashlib.sha1(t.encode() if isinstance(t, str) else t).digest()[:4]
                       for t in tokens)
    signature = np.full(num_perm, _EMPTY, dtype=np.uint32)
    a, b = _permutations(num_perm)
    mixed = _fmix32(np.frombuffer(digests, "<u4").astype(np.uint32))
    for start in range(0, len(mixed), _CHUNK):
        hashed = mixed[start:start + _CHUNK, None] * a + b  # wraps: modulo 2**32
        np.minimum(signature, hashed.min(axis=0), out=signature)
    return signature


@functools.lru_cache(maxsize=4)
def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``a`` (odd) and ``b`` of each permutation, as datasketch draws them."""
    draw = np.random.RandomState(SEED)
    a = draw.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    return a, draw.randint(0, 1 << 32, num_perm, dtype=np.uint32)


def _fmix32(values: np.ndarray) -> np.ndarray:
    """The MurmurHash3 32-bit finalizer (a bijection), element-wise."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values ^= values >> np.uint32(13)
    values *= np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


def merge(a: np.ndarray | None, b: np.ndarray) -> np.ndarray:
    """Signature of the union of two sets."""
    return b if a is None else np.minimum(a, b)


def to_blob(signature: np.ndarray) -> bytes:
    """Compact storage form: little-endian uint32s (512 bytes for 128 permutations)."""
    return signature.astype("<u4").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    """Inverse of :func:`to_blob`."""
    return np.frombuffer(blob, dtype="<u4").astype(np.uint32)


def band_keys(signature: np.ndarray, bands: int) -> list[int]:
    """Return one signed 64-bit key per LSH band (equal keys = candidate pair).

    Raises:
        ValueError: ``bands`` does not divide the signature length.

    """
    if len(signature) % bands:
        raise ValueError(f"{bands} bands do not divide a signature of {len(signature)}; "
                         "pick a divisor such as 16 or 32 for 128 permutations")
    if np.all(signature == _EMPTY):
        return []
    rows = signature.astype("<u4").reshape(bands, -1)
    return [xxhash.xxh3_64_intdigest(row.tobytes()) - (1 << 63) for row in rows]


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.mean(a == b))
