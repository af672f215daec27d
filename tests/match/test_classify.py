from __future__ import annotations

from datetime import date

from dedup.config import Settings
from dedup.match.classify import (
    PairEvidence,
    RepeatEvidence,
    Study,
    classify,
    count_bytes_once,
    orient,
)
from dedup.match.verify import SetOverlap, distance_matrix, near_fraction

S = Settings()
REPEAT = RepeatEvidence("CT HEAD", 90, 12, 0.997, None)


def evidence(n_a: int, n_b: int, shared: int, header: float = 0.2, near: float = 0.0,
             repeat: RepeatEvidence | None = None) -> PairEvidence:
    return PairEvidence(SetOverlap(n_a, n_b, shared), shared * 10, shared * 10, header, near,
                        40, repeat)


def kind(e: PairEvidence) -> str | None:
    verdict = classify(e, S)
    return None if verdict is None else verdict.kind.value


def test_kinds_from_the_strongest() -> None:
    assert kind(evidence(60, 60, 60, repeat=REPEAT)) == "same-content"
    assert kind(evidence(40, 60, 40)) == "partial"
    assert kind(evidence(60, 40, 40)) == "partial"
    assert kind(evidence(60, 60, 0, header=1.0, near=0.9, repeat=REPEAT)) == "near"
    assert kind(evidence(60, 60, 0, header=0.3, near=1.0, repeat=REPEAT)) == "repeat"


def test_doubtful_pairs_are_not_flagged() -> None:
    assert kind(evidence(60, 60, 10)) is None                      # some shared pixels
    assert kind(evidence(60, 60, 0, header=1.0, near=0.1)) is None  # same header, other pixels
    assert kind(evidence(60, 60, 0, header=1.0, near=0.1, repeat=REPEAT)) is None
    assert kind(evidence(60, 60, 0, header=0.9, near=1.0)) is None  # look-alike, new acquisition
    assert kind(evidence(0, 0, 0)) is None


def test_direction_and_bytes() -> None:
    old = Study(1, "1.1", 1, date(2024, 1, 1), 600)
    new = Study(9, "1.9", 2, date(2023, 12, 1), 400)
    e = PairEvidence(SetOverlap(40, 60, 40), 400, 350, 0.5, 0.0, 0, REPEAT)
    verdict = classify(e, S)
    assert verdict is not None
    dup = orient(verdict, new, old, e)
    assert (dup.study.uid, dup.duplicate_of.uid, dup.bytes_reclaimable) == ("1.9", "1.1", 400)
    repeat = classify(evidence(10, 10, 0, repeat=REPEAT), S)
    assert repeat is not None
    later = orient(repeat, new, old, evidence(10, 10, 0, repeat=REPEAT))
    assert (later.study.uid, later.bytes_reclaimable) == ("1.1", 0)  # the later study date


def test_bytes_are_counted_once_per_duplicate_study() -> None:
    a, b, c = (Study(k, f"1.{k}", k, None, 100) for k in (1, 2, 3))
    e = evidence(5, 5, 5)
    verdict = classify(e, S)
    assert verdict is not None
    rows = count_bytes_once([orient(verdict, c, a, e), orient(verdict, c, b, e)])
    assert sorted(r.bytes_reclaimable for r in rows) == [0, 50]


def test_perceptual_distances() -> None:
    zero, ones, half = bytes(32), b"\xff" * 32, b"\xff" * 16 + bytes(16)
    assert distance_matrix([zero, ones], [half]).ravel().tolist() == [128, 128]
    assert near_fraction([zero], [zero, ones], 0) == 1.0
    assert near_fraction([zero, ones], [zero, half], 10) == 0.5
    assert near_fraction([zero, ones], [zero, half], 10) == near_fraction([zero, half],
                                                                          [zero, ones], 10)
    assert near_fraction([], [zero], 10) == 0.0


def test_set_overlap() -> None:
    o = SetOverlap(40, 60, 40)
    assert (o.containment, round(o.jaccard, 3), o.identical) == (1.0, 0.667, False)
    assert SetOverlap(3, 3, 3).identical and not SetOverlap(0, 0, 0).identical
