"""Turn a verified candidate pair into a duplicate: kind, score, direction, bytes, evidence.

Classification is a pure function of the two studies' evidence, so it does not depend on the
order in which studies arrived; only the direction (which one is called the duplicate) does:

* storage kinds (``same-content``, ``partial``, ``near``): the study that arrived later
  (later first run, then larger key) duplicates the earlier one;
* ``repeat``: the later acquisition (study date) repeats the earlier one.

Kinds are tried from the strongest: identical pixel-hash sets are ``same-content``; a smaller
set held at least ``match_partial_containment`` by the other is ``partial``; no shared pixels
but at least ``match_near_min_fraction`` of the smaller study's images with a copy partner in
the other (acquisition signatures alike: the same fine structure, at least
``match_near_min_structure``, or the same noise, at least ``match_near_min_noise``, which a
lossy or resampled copy keeps and a new acquisition does not) is ``near``; otherwise a pair
of the same person, procedure family and window whose pixels share nothing is a ``repeat``.
Some shared pixels below the containment threshold are left unflagged: a false duplicate,
and above all a false repeat, costs more than a missed one.

Headers never make a duplicate: many patients are scanned on one device with one protocol,
and a copy may have new UIDs, another name and shifted dates. Only pixel evidence does.

Pixel sets hold informative hashes only: blank images and hashes that the studies of many
patients hold are left out before this point (``pixel_overlap.sql``), so a shared blank
frame or placeholder makes nothing ``same-content`` or ``partial``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date

from dedup.config import Settings
from dedup.match.verify import SetOverlap
from dedup.records import DuplicateKind

STORAGE_KINDS = (DuplicateKind.SAME_CONTENT, DuplicateKind.PARTIAL, DuplicateKind.NEAR)
_RANK = {kind: rank for rank, kind in enumerate(
    (DuplicateKind.EXACT, *STORAGE_KINDS, DuplicateKind.REPEAT))}


@dataclass(frozen=True, slots=True)
class Study:
    """What orientation and accounting need to know about one study."""

    key: int
    uid: str
    first_run: int
    study_date: date | None
    bytes: int


@dataclass(frozen=True, slots=True)
class RepeatEvidence:
    """Why a pair is a repeat candidate."""

    family: str
    window_days: int
    days_apart: int
    link_probability: float
    link_reasons: str | None


@dataclass(frozen=True, slots=True)
class PairEvidence:
    """Everything verified about one candidate pair (``a`` is the study being matched)."""

    overlap: SetOverlap
    bytes_a_in_b: int
    bytes_b_in_a: int
    header_jaccard: float
    near_fraction: float
    median_similarity: float | None
    repeat: RepeatEvidence | None


@dataclass(frozen=True, slots=True)
class Verdict:
    """A classified pair."""

    kind: DuplicateKind
    score: float
    evidence: dict[str, object]


@dataclass(frozen=True, slots=True)
class Duplicate:
    """One row of the ``duplicates`` table (before bytes are assigned to one row per study)."""

    study: Study
    duplicate_of: Study
    kind: DuplicateKind
    score: float
    bytes_reclaimable: int
    evidence: str
    matched_key: int  # the queued study whose matching found the pair
    arrival_run: int  # the run that brought the duplicate (a study: the run it arrived in)

    @property
    def rank(self) -> tuple[int, float, int]:
        """Sort key: strongest kind, highest score, earliest original first."""
        return (_RANK[self.kind], -self.score, self.duplicate_of.key)


def classify(e: PairEvidence, settings: Settings) -> Verdict | None:
    """Decide the kind of a verified pair, or ``None`` when it is no duplicate."""
    o = e.overlap
    sets = {"pixel_jaccard": round(o.jaccard, 4), "containment": round(o.containment, 4),
            "shared_instances": o.shared, "instances": [o.n_a, o.n_b]}
    if o.identical:
        return Verdict(DuplicateKind.SAME_CONTENT, 1.0, sets)
    if o.shared and o.containment >= settings.match_partial_containment:
        return Verdict(DuplicateKind.PARTIAL, round(o.containment, 4), sets)
    if o.shared:
        return None
    looks = {"header_jaccard": round(e.header_jaccard, 4),
             "near_fraction": round(e.near_fraction, 4),
             "median_detail_similarity": e.median_similarity}
    if e.near_fraction >= settings.match_near_min_fraction:
        return Verdict(DuplicateKind.NEAR, round(e.near_fraction, 4), sets | looks)
    if e.repeat is None:
        return None
    r = e.repeat
    reasons = json.loads(r.link_reasons) if r.link_reasons else ["same patient record"]
    return Verdict(DuplicateKind.REPEAT, round(r.link_probability, 6), sets | looks | {
        "family": r.family, "window_days": r.window_days, "days_apart": r.days_apart,
        "link_probability": round(r.link_probability, 6), "link_reasons": reasons})


def orient(verdict: Verdict, a: Study, b: Study, e: PairEvidence) -> Duplicate:
    """Give a verdict its direction and the duplicate side's reclaimable bytes.

    ``a`` is the study being matched, ``b`` the other; a near copy is reclaimable whole.
    """
    if verdict.kind is DuplicateKind.REPEAT:
        later_a = (a.study_date or date.min, a.first_run, a.key) > \
                  (b.study_date or date.min, b.first_run, b.key)
    else:
        later_a = (a.first_run, a.key) > (b.first_run, b.key)
    dup, orig = (a, b) if later_a else (b, a)
    if verdict.kind is DuplicateKind.NEAR:
        reclaim = dup.bytes  # the whole lossy copy
    elif verdict.kind is DuplicateKind.REPEAT:
        reclaim = 0
    else:
        reclaim = e.bytes_a_in_b if later_a else e.bytes_b_in_a
    return Duplicate(dup, orig, verdict.kind, verdict.score, reclaim,
                     json.dumps(verdict.evidence, sort_keys=True), a.key, dup.first_run)


def count_bytes_once(duplicates: list[Duplicate]) -> list[Duplicate]:
    """Keep reclaimable bytes on each duplicate study's best storage row only.

    A study that copies several others (or several copies of one) is reclaimable once, so
    ``sum(bytes_reclaimable)`` over the table never counts an instance twice. Duplicates
    inside one study (``study = duplicate_of``, one per kind) keep their bytes: their
    instances are copies of the study's own (``instances.copy_of``), which the rows with other
    studies leave out.
    """
    best: dict[int, Duplicate] = {}
    for d in duplicates:
        if d.kind in STORAGE_KINDS and d.study.key != d.duplicate_of.key:
            current = best.get(d.study.key)
            if current is None or d.rank < current.rank:
                best[d.study.key] = d
    keep = {id(d) for d in best.values()}
    return [d if id(d) in keep or d.kind not in STORAGE_KINDS
            or d.study.key == d.duplicate_of.key else replace(d, bytes_reclaimable=0)
            for d in duplicates]
