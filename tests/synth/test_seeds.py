

def test_uids_of_parts_that_join_alike_differ() -> None:
    from dedup.synth.seeds import _uid

    assert _uid(3, 1, 12) != _uid(31, 1, 2)
    assert _uid(3, 1, 12) == _uid(3, 1, 12)
