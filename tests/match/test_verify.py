from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dedup.match.verify import _median


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.integers(1, 400), elements=st.floats(-1, 1)))
def test_median_is_numpys_to_the_bit(values: np.ndarray) -> None:
    assert _median(values) == float(np.median(values))
