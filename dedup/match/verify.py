"""Verification of candidate pairs on the real sets: pure functions over values.

LSH only proposes pairs; whether two studies are duplicates is decided here on what they
hold: the exact Jaccard similarity and containment of their instance pixel-hash sets, and,
for lossy copies whose pixel hashes all differ, the share of instances with a perceptual-hash
partner in the other study.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dedup.fingerprint.signature import from_blob


@dataclass(frozen=True, slots=True)
class SetOverlap:
    """How two studies' pixel-hash sets overlap."""

    n_a: int
    n_b: int
    shared: int

    @property
    def jaccard(self) -> float:
        """|A ∩ B| / |A ∪ B| (0 for two empty sets)."""
        union = self.n_a + self.n_b - self.shared
        return self.shared / union if union else 0.0

    @property
    def containment(self) -> float:
        """|A ∩ B| / min(|A|, |B|): how much of the smaller set the other holds."""
        smaller = min(self.n_a, self.n_b)
        return self.shared / smaller if smaller else 0.0

    @property
    def identical(self) -> bool:
        """Both sets non-empty and equal."""
        return self.n_a > 0 and self.n_a == self.n_b == self.shared


def estimated_jaccard(blob_a: bytes | None, blob_b: bytes | None) -> float:
    """Jaccard similarity estimated from two stored MinHash signatures (0 when one is missing).

    Raises:
        ValueError: the signatures have different lengths (built with other ``num_perm``).

    """
    if blob_a is None or blob_b is None:
        return 0.0
    a, b = from_blob(blob_a), from_blob(blob_b)
    if len(a) != len(b):
        raise ValueError(f"signatures of {len(a)} and {len(b)} permutations cannot be "
                         "compared; rebuild the archive with one num_perm")
    return float(np.mean(a == b))


def _bits(hashes: Sequence[bytes]) -> np.ndarray:
    """Hashes as a (n, bits) float32 0/1 matrix."""
    raw = np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(len(hashes), -1)
    return np.unpackbits(raw, axis=1).astype(np.float32)


def distance_matrix(a: Sequence[bytes], b: Sequence[bytes]) -> np.ndarray:
    """Hamming distances between every hash of ``a`` and every hash of ``b`` (n x m)."""
    if not a or not b:
        return np.zeros((len(a), len(b)), dtype=np.int32)
    x, y = _bits(a), _bits(b)
    common = x @ y.T
    return np.rint(x.sum(1)[:, None] + y.sum(1)[None, :] - 2 * common).astype(np.int32)


def near_fraction(a: Sequence[bytes], b: Sequence[bytes], max_distance: int) -> float:
    """Share of the smaller study's instances with a perceptual-hash partner in the other.

    The result is symmetric: for studies of equal size both directions are computed and the
    smaller share is returned.

    Args:
        a: perceptual hashes of one study's instances.
        b: perceptual hashes of the other's.
        max_distance: the most differing bits for two instances to count as the same image.

    Returns:
        A share in [0, 1] (0 when either study has no hashes).

    """
    if not a or not b:
        return 0.0
    close = distance_matrix(a, b) <= max_distance
    a_share = float(close.any(axis=1).mean())
    b_share = float(close.any(axis=0).mean())
    if len(a) == len(b):
        return min(a_share, b_share)
    return a_share if len(a) < len(b) else b_share


def median_distance(a: Sequence[bytes], b: Sequence[bytes]) -> int:
    """Median over the smaller study of each instance's distance to its nearest partner."""
    if not a or not b:
        return 256
    d = distance_matrix(a, b)
    nearest = d.min(axis=1) if len(a) <= len(b) else d.min(axis=0)
    return int(np.median(nearest))
