"""Matching is order-independent: A then B finds the pairs B then A finds."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from dedup.archive.db import Archive
from dedup.config import Settings
from dedup.match import match
from tests.match.fake import FakeStudy, add, signature_of


def _px(tag: str, n: int) -> tuple[bytes, ...]:
    return tuple(f"{tag}{i}".encode().ljust(16, b".") for i in range(n))


def _tokens(tag: str, n: int) -> tuple[str, ...]:
    return ("mod:CT", "body:HEAD", *(f"inst:{i}" for i in range(n)),
            *(f"acq:{tag}{i}" for i in range(n)))


ORIGINAL = FakeStudy("1.1", "MUELLER^HANS", "STMARY", date(2024, 1, 10), _px("a", 20),
                     _tokens("a", 20))
STUDIES = (
    ORIGINAL,
    FakeStudy("1.2", "Müller^Hans", "KLINORD", date(2024, 1, 10), ORIGINAL.pixels,
              ORIGINAL.tokens),                                           # same-content
    FakeStudy("1.3", "MUELLER^HANS", "STMARY", date(2024, 1, 10), ORIGINAL.pixels[:15],
              ORIGINAL.tokens),                                           # partial
    FakeStudy("1.4", "MUELLER^HANS", "STMARY", date(2024, 1, 10), _px("n", 20),
              ORIGINAL.tokens, tuple(map(signature_of, ORIGINAL.pixels))),  # near
    FakeStudy("1.5", "Müller^Hans", "KLINORD", date(2024, 2, 20), _px("r", 20),
              _tokens("r", 20)),                                          # repeat
    FakeStudy("1.6", "OKAFOR^GRACE", "STMARY", date(2024, 1, 10), _px("o", 20),
              _tokens("o", 20)),                                          # another patient
)
EXPECTED = {
    (frozenset({"1.1", "1.2"}), "same-content"), (frozenset({"1.1", "1.3"}), "partial"),
    (frozenset({"1.2", "1.3"}), "partial"), (frozenset({"1.1", "1.4"}), "near"),
    (frozenset({"1.2", "1.4"}), "near"), (frozenset({"1.3", "1.4"}), "near"),
    (frozenset({"1.1", "1.5"}), "repeat"),
    (frozenset({"1.2", "1.5"}), "repeat"), (frozenset({"1.4", "1.5"}), "repeat"),
    (frozenset({"1.3", "1.5"}), "repeat"),
}


def pairs_after(batches: list[list[FakeStudy]]) -> set[tuple[frozenset[str], str]]:
    with Archive.open(":memory:") as archive:
        for run, batch in enumerate(batches, start=1):
            for study in batch:
                add(archive, study, run)
            match(archive, Settings(), run_id=run)
        rows = archive.query("SELECT study_uid, duplicate_of_study_uid, kind FROM duplicates")
        again = match(archive, Settings())
        assert again.studies == 0
    return {(frozenset((a, b)), kind) for a, b, kind in rows.iter_rows()}


def test_all_at_once_finds_every_kind() -> None:
    assert pairs_after([list(STUDIES)]) == EXPECTED


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.generate])  # a failure prints its example; no slow shrink
@given(order=st.permutations(range(len(STUDIES))), split=st.integers(0, len(STUDIES)))
def test_order_of_arrival_does_not_change_the_pairs(order: list[int], split: int) -> None:
    studies = [STUDIES[i] for i in order]
    assert pairs_after([studies[:split], studies[split:]]) == EXPECTED
