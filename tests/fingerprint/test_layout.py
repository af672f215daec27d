from __future__ import annotations

import numpy as np
import pytest

from dedup.fingerprint.layout import bit_distances


@pytest.mark.parametrize(("left", "right"), [(1, 1), (6, 9), (32, 32), (33, 40), (120, 7)])
def test_bit_distances_count_every_differing_bit(left: int, right: int) -> None:
    """Small sets are counted in one pass, large ones word by word: both count alike."""
    raw = np.random.PCG64(left * 1000 + right).random_raw(16 * (left + right))
    a, b = raw[:16 * left].reshape(16, left), raw[16 * left:].reshape(16, right)
    expected = [[sum(bin(int(x) ^ int(y)).count("1") for x, y in zip(a[:, i], b[:, j],
                                                                      strict=True))
                 for j in range(right)] for i in range(left)]
    got = bit_distances(a, b)
    assert got.dtype == np.int32
    assert got.tolist() == expected
