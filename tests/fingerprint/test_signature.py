from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.fingerprint.signature import band_keys, from_blob, jaccard, merge, minhash, to_blob
from dedup.fingerprint.tokens import header_tokens

tokens = st.sets(st.text(min_size=1, max_size=8), min_size=1, max_size=40)


@settings(max_examples=40, deadline=None)
@given(tokens, tokens)
def test_merge_is_the_signature_of_the_union(a: set[str], b: set[str]) -> None:
    assert np.array_equal(merge(minhash(a, 64), minhash(b, 64)), minhash(a | b, 64))
    assert np.array_equal(merge(minhash(a, 64), minhash(b, 64)),
                          merge(minhash(b, 64), minhash(a, 64)))


def test_blob_round_trip_is_compact() -> None:
    sig = minhash(["a", "b"], 128)
    assert len(to_blob(sig)) == 512
    assert np.array_equal(from_blob(to_blob(sig)), sig)


def test_band_keys_collide_for_similar_sets() -> None:
    base = {f"t{i}" for i in range(200)}
    near = set(list(base)[:190]) | {"x1", "x2"}
    far = {f"u{i}" for i in range(200)}
    a, b, c = (minhash(s, 128) for s in (base, near, far))
    assert jaccard(a, b) > 0.8
    assert set(band_keys(a, 32)) & set(band_keys(b, 32))
    assert not set(band_keys(a, 32)) & set(band_keys(c, 32))


def test_band_count_must_divide() -> None:
    with pytest.raises(ValueError, match="divide"):
        band_keys(minhash(["a"], 128), 30)


def test_empty_set_has_no_bands() -> None:
    assert band_keys(minhash([], 128), 32) == []


def test_header_tokens_ignore_identity() -> None:
    values = {"Modality": "CT", "StudyDescription": "CT HEAD", "SeriesNumber": "2",
              "SeriesDescription": "AXIAL", "InstanceNumber": "5",
              "ImagePositionPatient": "0\\0\\12.5", "PatientName": "DOE^JANE",
              "StudyInstanceUID": "1.2.3"}
    tokens = header_tokens(values)
    assert "mod:CT" in tokens and "pos:2|AXIAL|0.0/0.0/12.5" in tokens
    assert not any("DOE" in t or "1.2.3" in t for t in tokens)
    assert header_tokens({**values, "PatientName": "X^Y", "StudyInstanceUID": "9"}) == tokens


@settings(max_examples=30, deadline=None)
@given(st.sets(st.binary(min_size=0, max_size=40), max_size=60), st.sampled_from([16, 128]))
def test_minhash_is_datasketchs_affine32_scheme(values: set[bytes], num_perm: int) -> None:
    from datasketch import MinHash

    reference = MinHash(num_perm=num_perm, seed=1, scheme="affine32")
    reference.update_batch(list(values))
    assert np.array_equal(minhash(values, num_perm), reference.hashvalues)
    assert minhash(values, num_perm).dtype == np.uint32


def test_minhash_of_many_tokens_is_chunked_alike() -> None:
    many = {f"px{i}".encode() for i in range(10_000)}
    whole = minhash(many, 128)
    assert np.array_equal(whole, merge(minhash(list(many)[:3_000], 128),
                                       minhash(list(many)[3_000:], 128)))
