"""Study signatures: MinHash over header tokens and over instance pixel hashes, LSH bands.

A study's token sets only grow as instances arrive, and MinHash of a union is the
element-wise minimum of the parts' signatures, so signatures are built incrementally and
are the same whatever order (or batch) the instances came in.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import xxhash

SEED = 1
_EMPTY = np.uint32(0xFFFFFFFF)


def minhash(tokens: Iterable[bytes | str], num_perm: int) -> np.ndarray:
    """Return the MinHash signature (uint32 array) of a token set.

    An empty set gives an all-max signature, which merges neutrally.
    """
    encoded = [t.encode() if isinstance(t, str) else t for t in tokens]
    if not encoded:
        return np.full(num_perm, _EMPTY, dtype=np.uint32)
    from datasketch import MinHash  # imported here: it pulls in SciPy (~0.8 s of CLI start)

    m = MinHash(num_perm=num_perm, seed=SEED)
    m.update_batch(encoded)
    return m.hashvalues.astype(np.uint32)


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
