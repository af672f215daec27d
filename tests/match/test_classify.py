from __future__ import annotations

import struct
from dataclasses import replace
from datetime import date

from dedup.config import Settings
from dedup.fingerprint.detail import CopyLimits
from dedup.match.classify import (
    PairEvidence,
    RepeatEvidence,
    Study,
    classify,
    count_bytes_once,
    orient,
)
from dedup.match.verify import SetOverlap, look_alike

S = Settings()
REPEAT = RepeatEvidence("CT HEAD", 90, 12, 0.997, None)


def evidence(n_a: int, n_b: int, shared: int, header: float = 0.2, near: float = 0.0,
             repeat: RepeatEvidence | None = None) -> PairEvidence:
    return PairEvidence(SetOverlap(n_a, n_b, shared), shared * 10, shared * 10, header, near,
                        0.9 if near else 0.1, repeat)


def kind(e: PairEvidence) -> str | None:
    verdict = classify(e, S)
    return None if verdict is None else verdict.kind.value


def test_kinds_from_the_strongest() -> None:
    assert kind(evidence(60, 60, 60, repeat=REPEAT)) == "same-content"
    assert kind(evidence(40, 60, 40)) == "partial"
    assert kind(evidence(60, 40, 40)) == "partial"
    assert kind(evidence(60, 60, 0, header=1.0, near=0.9, repeat=REPEAT)) == "near"
    assert kind(evidence(60, 60, 0, header=0.3, near=1.0, repeat=REPEAT)) == "near"
    assert kind(evidence(60, 60, 0, header=0.3, near=0.1, repeat=REPEAT)) == "repeat"


def test_pixels_decide_never_headers() -> None:
    # the same header (a protocol on one device, times removed) and other pixels: nothing,
    # or a repeat when it is the same person inside the window
    assert kind(evidence(60, 60, 0, header=1.0, near=0.1)) is None
    assert kind(evidence(60, 60, 0, header=1.0, near=0.1, repeat=REPEAT)) == "repeat"
    # another header (re-identified, dates and times shifted) and the same detail: a copy
    assert kind(evidence(60, 60, 0, header=0.1, near=1.0)) == "near"


def test_doubtful_pairs_are_not_flagged() -> None:
    assert kind(evidence(60, 60, 10)) is None                      # some shared pixels
    assert kind(evidence(60, 60, 10, repeat=REPEAT)) is None
    assert kind(evidence(60, 60, 0, near=0.4)) is None              # too few copy partners
    assert kind(evidence(0, 0, 0)) is None


def test_direction_and_bytes() -> None:
    old = Study(1, "1.1", 1, date(2024, 1, 1), 600)
    new = Study(9, "1.9", 2, date(2023, 12, 1), 400)
    e = PairEvidence(SetOverlap(40, 60, 40), 400, 350, 0.5, 0.0, None, REPEAT)
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


def near_fraction(a: list[bytes], b: list[bytes], limits: CopyLimits) -> float:
    return look_alike(a, b, limits)[0]


def median_similarity(a: list[bytes], b: list[bytes]) -> float | None:
    return look_alike(a, b, CopyLimits())[1]


def test_copy_partners_from_signature_distances() -> None:
    size, unplaced = struct.pack(">BHH", 2, 512, 512), bytes(128)  # version 2, no alignment
    zero, ones, half = (size + part + unplaced for part in (
        bytes(128), b"\xff" * 128, b"\xff" * 64 + bytes(64)))
    limits = CopyLimits(0.99, 0.99, 0.0, 0.99)
    assert near_fraction([zero], [zero, ones], limits) == 1.0
    assert near_fraction([zero, ones], [zero, half], limits) == 0.5
    assert near_fraction([zero, ones], [zero, half], limits) == \
        near_fraction([zero, half], [zero, ones], limits)
    assert near_fraction([], [zero], limits) == 0.0
    assert median_similarity([zero], [half]) == 0.0 and median_similarity([], [zero]) is None
    assert median_similarity([zero], [zero, ones]) == 1.0
    # a noise part makes a copy partner where the structure alone would not
    assert near_fraction([half + bytes(128)], [zero + bytes(128)], limits) == 1.0
    assert near_fraction([half + bytes(128)], [zero + b"\xff" * 128], limits) == 0.0
    # the same structure with other noise: a retake, unless the noise or the place backs it
    supported = CopyLimits(0.99, 0.99, 0.5, 0.99)
    assert near_fraction([zero + bytes(128)], [zero + b"\xff" * 128], supported) == 0.0
    assert near_fraction([zero + bytes(128)], [zero + bytes(128)], supported) == 1.0
    here, there = (size + bytes(128) + struct.pack(">64h", *values) for values in (
        [4096] * 64, [4096, -4096] * 32))
    assert near_fraction([here + bytes(128)], [here + b"\xff" * 128], supported) == 1.0
    assert near_fraction([here + bytes(128)], [there + b"\xff" * 128], supported) == 0.0
    # half the size on both sides: the structure need agree less
    small = struct.pack(">BHH", 2, 256, 256) + b"\xff" * 16 + bytes(112) + unplaced
    assert near_fraction([small], [zero], CopyLimits(0.99, 0.99, 0.0, 0.9)) == 1.0
    assert near_fraction([small], [zero], limits) == 0.0


def test_set_overlap() -> None:
    o = SetOverlap(40, 60, 40)
    assert (o.containment, round(o.jaccard, 3), o.identical) == (1.0, 0.667, False)
    assert SetOverlap(3, 3, 3).identical and not SetOverlap(0, 0, 0).identical


def test_a_studys_own_duplicates_keep_their_bytes() -> None:
    a, b = Study(1, "1.1", 1, None, 100), Study(2, "1.2", 2, None, 200)
    e = PairEvidence(SetOverlap(5, 5, 5), 200, 100, 0.5, 0.0, None, None)
    verdict = classify(e, S)
    assert verdict is not None
    across = orient(verdict, b, a, e)  # b's content copies a's: 200 bytes
    own = [replace(across, duplicate_of=b, bytes_reclaimable=60, arrival_run=2),  # copies of
           replace(across, duplicate_of=b, bytes_reclaimable=40, arrival_run=3)]  # b's own
    again = orient(verdict, b, Study(3, "1.3", 1, None, 100), e)  # b copies another too
    rows = count_bytes_once([across, *own, again])
    assert [r.bytes_reclaimable for r in rows] == [200, 60, 40, 0]
