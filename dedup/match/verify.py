"""Verification of candidate pairs on the real sets: pure functions over values.

LSH only proposes pairs; whether two studies are duplicates is decided here on what they
hold: the exact Jaccard similarity and containment of their instance pixel-hash sets, and,
for lossy copies whose pixel hashes all differ, the share of instances whose acquisition
signature (:mod:`dedup.fingerprint.detail`) has a copy partner in the other study.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dedup.fingerprint.detail import CopyLimits, copy_partners
from dedup.fingerprint.layout import SignatureSet
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


def look_alike(a: Sequence[bytes] | SignatureSet, b: Sequence[bytes] | SignatureSet,
               limits: CopyLimits) -> tuple[float, float | None]:
    """How much of the smaller study has a copy partner in the other, and how alike they are.

    The share is symmetric: for studies of equal size both directions are computed and the
    smaller share is returned.

    Args:
        a: acquisition signatures of one study's images (or their
            :func:`~dedup.fingerprint.layout.signature_set`, for a study compared often).
        b: acquisition signatures of the other's.
        limits: the least agreement of a copy and its source.

    Returns:
        The share in [0, 1] of the smaller study's images with a copy partner (0 when either
        study has no signatures), and the median over them of the structure correlation with
        the closest image of the other (``None`` then).

    """
    if not len(a) or not len(b):
        return 0.0, None
    close, structure = copy_partners(a, b, limits)
    a_share = float(close.any(axis=1).mean())
    b_share = float(close.any(axis=0).mean())
    nearest = structure.max(axis=1) if len(a) <= len(b) else structure.max(axis=0)
    median = round(_median(nearest), 4)
    if len(a) == len(b):
        return min(a_share, b_share), median
    return (a_share if len(a) < len(b) else b_share), median


def _median(values: np.ndarray) -> float:
    """``np.median`` of a 1-d array, the same float, without its generality's cost (0.1 ms)."""
    ordered = np.sort(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return float((ordered[middle - 1] + ordered[middle]) / 2)
