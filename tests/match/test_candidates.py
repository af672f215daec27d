"""Candidate pairs: the header Jaccard of many pairs at once is each pair's own."""

from __future__ import annotations

import pytest

from dedup.fingerprint.signature import minhash, to_blob
from dedup.match.candidates import _header_jaccards
from dedup.match.verify import estimated_jaccard


def _blob(words: range, num_perm: int = 128) -> bytes:
    return to_blob(minhash([f"0008,0060=CT{n}" for n in words], num_perm))


def test_header_jaccards_of_many_pairs_are_each_pairs_own() -> None:
    sigs = {key: _blob(range(key, key + 40)) for key in range(12)}
    a = [k for k in range(12) for _ in range(12)]
    b = [k for _ in range(12) for k in range(12)]
    got = _header_jaccards(sigs, a, b)
    assert [v.hex() for v in got] == [
        estimated_jaccard(sigs[x], sigs[y]).hex() for x, y in zip(a, b, strict=True)]
    assert got[0] == 1.0 and 0 < got[1] < 1


def test_a_missing_or_other_length_signature_is_handled_pair_by_pair() -> None:
    sigs = {1: _blob(range(30)), 2: _blob(range(5, 35))}
    assert _header_jaccards(sigs, [1, 3], [2, 1]) == [estimated_jaccard(sigs[1], sigs[2]), 0.0]
    sigs[3] = _blob(range(30), num_perm=64)
    assert _header_jaccards(sigs, [1], [2]) == [estimated_jaccard(sigs[1], sigs[2])]
    with pytest.raises(ValueError, match="num_perm"):
        _header_jaccards(sigs, [1], [3])
