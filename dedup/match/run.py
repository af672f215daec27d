"""Match the studies not matched yet against the whole archive, incrementally.

Steps, each committed in its own transaction so a crash leaves no half result:

1. procedure families for studies that have none (or were classified by another mapping);
2. patient linkage for patient records not linked yet;
3. ``exact`` rows from re-sent copies (files with status ``copy``), naming their first arrival;
4. the queue (studies never matched, or grown since), in chunks: each study's arrivals
   against what it held before (:mod:`dedup.match.arrivals`); candidates by LSH band,
   shared-pixel, look and repeat joins, verification on pixel-hash sets and acquisition
   signatures, pairwise classification; one transaction per chunk writing the rows and the
   matched marker.

Re-running changes nothing: matched studies leave the queue, and every step skips what it
has done. The pairs found do not depend on the order studies arrived in, because each pair
is classified from its two studies alone (see :mod:`dedup.match.classify`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from dedup.archive.db import Archive
from dedup.config import Settings
from dedup.fingerprint.detail import CopyLimits
from dedup.fingerprint.layout import SignatureSet, signature_set
from dedup.match import candidates as cand
from dedup.match.arrivals import within_studies
from dedup.match.classify import (
    Duplicate,
    PairEvidence,
    RepeatEvidence,
    Study,
    classify,
    count_bytes_once,
    orient,
)
from dedup.match.linkage import link_new_patients
from dedup.match.procedures import ProcedureRules, assign_families, load_mapping
from dedup.match.verify import SetOverlap, look_alike

CHUNK = 2000  # queued studies per transaction


@dataclass(slots=True)
class MatchSummary:
    """What one matching pass did; the JSON form is stable."""

    studies: int = 0
    candidates: int = 0
    duplicates: dict[str, int] = field(default_factory=dict)
    exact: int = 0
    classified: int = 0
    unknown_procedures: int = 0
    patient_links: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-serialisable values."""
        return {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]


def match(archive: Archive, settings: Settings, *, run_id: int | None = None) -> MatchSummary:
    """Classify every study not matched yet against the archive.

    Args:
        archive: a writable archive (the caller holds the batch lock).
        settings: thresholds and the mapping tables.
        run_id: the run to record on new rows (``None`` outside a run).

    Returns:
        Counts of what was matched and found.

    Raises:
        UsageError: the procedure family or look-back table is malformed.

    """
    started = time.monotonic()
    mapping = load_mapping(settings.procedure_families, settings.lookback_windows)
    summary = MatchSummary()
    with archive.transaction():
        summary.classified = assign_families(archive, mapping)
    summary.unknown_procedures = int(archive.value("unknown_procedure_count"))
    summary.patient_links = link_new_patients(
        archive, prior=settings.link_prior, threshold=settings.link_threshold, run_id=run_id)
    with archive.transaction():
        before = archive.value("exact_duplicate_count")
        archive.run("exact_duplicates", [run_id])
        summary.exact = int(archive.value("exact_duplicate_count")) - int(before)
    found: Counter[str] = Counter()
    queue = archive.run("match_queue")
    for chunk in _chunks(queue["study_key"].to_list(), CHUNK):
        pairs, duplicates = _match_chunk(archive, chunk, settings, mapping, run_id)
        summary.candidates += pairs
        found.update(d.kind.value for d in duplicates)
    summary.studies = queue.height
    summary.duplicates = dict(sorted(found.items()))
    summary.seconds = round(time.monotonic() - started, 3)
    return summary


def _chunks(keys: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(keys), size):
        yield keys[start:start + size]


def _match_chunk(archive: Archive, keys: list[int], settings: Settings, mapping: ProcedureRules,
                 run_id: int | None) -> tuple[int, list[Duplicate]]:
    """Find, verify and store the duplicates of one chunk of queued studies."""
    with cand.queued(archive, keys):
        bands = cand.band_candidates(archive, settings.match_candidate_header_jaccard)
        shared = cand.pixel_candidates(archive, settings.match_common_pixel_patients)
        looks = cand.look_candidates(archive)
        repeats = cand.repeat_candidates(archive, mapping.windows | mapping.class_windows)
        own = _within(archive, keys, settings)
    pairs = _union(bands, shared, looks, repeats)
    pairs = cand.with_header_jaccard(archive, pairs.drop("header_jaccard"))
    duplicates = count_bytes_once(own + _verify(archive, pairs, repeats, settings))
    with archive.transaction():
        _store(archive, keys, duplicates, run_id)
    return pairs.height, duplicates


def _within(archive: Archive, keys: list[int], settings: Settings) -> list[Duplicate]:
    """Each queued study's duplicates of its own, its copies recorded (``match_queue``).

    The copies are committed at once, so the pairs verified next compare each study's
    content without them.
    """
    own = pl.DataFrame({"study_key": keys, "other_key": keys},
                       schema={"study_key": pl.Int64, "other_key": pl.Int64})
    uninformative = cand.uninformative_pixels(archive, own, settings.match_common_pixel_patients)
    found, copies = within_studies(archive, _studies(archive, keys), uninformative,
                                   copy_limits(settings))
    with archive.registered(instance_copies=copies), archive.transaction():
        archive.script("set_instance_copies")
    return found


def _union(*candidates: pl.DataFrame) -> pl.DataFrame:
    keys = [pl.col("study_key").cast(pl.Int64), pl.col("other_key").cast(pl.Int64)]
    frames = [frame.select(keys) for frame in candidates]
    return pl.concat(frames).unique().sort("study_key", "other_key").with_columns(
        header_jaccard=pl.lit(None, pl.Float64))


def _verify(archive: Archive, pairs: pl.DataFrame, repeats: pl.DataFrame,
            settings: Settings) -> list[Duplicate]:
    """Verify every candidate pair on its sets and classify it."""
    if pairs.is_empty():
        return []
    uninformative = cand.uninformative_pixels(archive, pairs,
                                              settings.match_common_pixel_patients)
    overlap = cand.pixel_overlap(archive, pairs, uninformative)
    table = pairs.join(overlap, on=["study_key", "other_key"], how="left").join(
        repeats, on=["study_key", "other_key"], how="left")
    look = table.filter(pl.col("shared") == 0)
    keys = set(look["study_key"].to_list()) | set(look["other_key"].to_list())
    details = {key: signature_set(signatures) for key, signatures in  # parsed once each
               cand.detail_signatures(archive, sorted(keys), uninformative).items()}
    studies = _studies(archive, set(table["study_key"]) | set(table["other_key"]))
    limits = copy_limits(settings)
    rows = list(table.iter_rows(named=True))
    out = []
    for row, evidence in zip(rows, _all_evidence(rows, details, limits, settings.worker_count),
                             strict=True):
        verdict = classify(evidence, settings)
        if verdict is not None:
            out.append(orient(verdict, studies[row["study_key"]], studies[row["other_key"]],
                              evidence))
    return out


def _all_evidence(rows: list[dict[str, Any]], details: dict[int, SignatureSet],
                  limits: CopyLimits, threads: int) -> list[PairEvidence]:
    """:func:`_evidence` of every row, in order, on ``threads`` threads.

    numpy lets go of the GIL while it compares signatures, so the threads share the cores;
    each takes runs of rows (a pair of small studies is quicker than handing it over).
    """
    size = max(1, -(-len(rows) // (threads * 8)))
    runs = [rows[start:start + size] for start in range(0, len(rows), size)]
    with ThreadPoolExecutor(threads, thread_name_prefix="dedup-verify") as pool:
        done = list(pool.map(lambda run: [_evidence(row, details, limits) for row in run], runs))
    return [evidence for run in done for evidence in run]


def _evidence(row: dict[str, Any], details: dict[int, SignatureSet],
              limits: CopyLimits) -> PairEvidence:
    none: list[bytes] = []
    fraction, median = look_alike(details.get(row["study_key"], none),
                                  details.get(row["other_key"], none), limits)
    repeat = None
    if row.get("family") is not None:
        repeat = RepeatEvidence(str(row["family"]), int(row["window_days"]),
                                int(row["days_apart"]), float(row["link_probability"]),
                                row["link_reasons"])
    return PairEvidence(
        overlap=_overlap(row),
        bytes_a_in_b=int(row["bytes_study"] or 0), bytes_b_in_a=int(row["bytes_other"] or 0),
        header_jaccard=float(row["header_jaccard"] or 0.0),
        near_fraction=fraction,
        median_similarity=median,
        repeat=repeat)


def copy_limits(settings: Settings) -> CopyLimits:
    """The settings' least agreement of a copy and its source."""
    return CopyLimits(structure=settings.match_near_min_structure,
                      noise=settings.match_near_min_noise,
                      noise_support=settings.match_near_noise_support,
                      resized=settings.match_near_min_resized,
                      alignment=settings.match_near_min_alignment)


def _overlap(row: dict[str, Any]) -> SetOverlap:
    """The pair's set overlap: images, and objects without pixels only beside shared images.

    A report or presentation state made from a template hashes alike for many patients, so
    objects alone never make a duplicate; a copy that shares images shares its reports too.
    """
    images = SetOverlap(int(row["n_study"] or 0), int(row["n_other"] or 0),
                        int(row["shared"] or 0))
    if not images.shared:
        return images
    return SetOverlap(images.n_a + int(row["n_study_objects"] or 0),
                      images.n_b + int(row["n_other_objects"] or 0),
                      images.shared + int(row["shared_objects"] or 0))


def _studies(archive: Archive, keys: Sequence[int] | set[int]) -> dict[int, Study]:
    with archive.registered(wanted_keys=cand.key_frame(sorted(keys))):
        rows = archive.run("studies_by_key")
    return {r[0]: Study(*r) for r in rows.iter_rows()}


def _store(archive: Archive, keys: list[int], duplicates: list[Duplicate],
           run_id: int | None) -> None:
    """Replace the chunk's rows and mark its studies matched (inside a transaction)."""
    rows = pl.DataFrame(
        [{"study_uid": d.study.uid, "duplicate_of_study_uid": d.duplicate_of.uid,
          "kind": d.kind.value, "score": d.score, "bytes_reclaimable": d.bytes_reclaimable,
          "study_key": d.study.key, "duplicate_of_study_key": d.duplicate_of.key,
          "matched_study_key": d.matched_key, "run_id": run_id, "evidence": d.evidence,
          "arrival_run": d.arrival_run}
         for d in duplicates],
        schema={"study_uid": pl.String, "duplicate_of_study_uid": pl.String, "kind": pl.String,
                "score": pl.Float64, "bytes_reclaimable": pl.Int64, "study_key": pl.Int64,
                "duplicate_of_study_key": pl.Int64, "matched_study_key": pl.Int64,
                "run_id": pl.Int64, "evidence": pl.String, "arrival_run": pl.Int64})
    chunk_keys = cand.key_frame(keys).with_columns(run_id=pl.lit(run_id, pl.Int64))
    with archive.registered(chunk_keys=chunk_keys, chunk_rows=rows):
        archive.script("store_matches")
