"""Commit batches of fingerprinted inputs: one transaction per batch, never half a batch."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import polars as pl

from dedup.archive.db import Archive
from dedup.config import Settings
from dedup.fingerprint.signature import band_keys, from_blob, merge, minhash, to_blob
from dedup.records import Instance, Quarantined, QuarantineReason

#: Quarantine reasons that depend on the environment, not the bytes: retried every run.
_RETRY = frozenset({QuarantineReason.UNREADABLE})


@dataclass(slots=True)
class BatchCounts:
    """What one committed batch changed."""

    instances: int = 0
    bytes: int = 0
    recognised: int = 0
    quarantined: int = 0
    conflicts: int = 0  # new instances whose SOP Instance UID was archived with other pixels
    studies: set[str] = field(default_factory=set)
    series: set[str] = field(default_factory=set)
    reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def commit_batch(archive: Archive, run_id: int, results: list[Instance | Quarantined],
                 settings: Settings, *, skipped: int = 0) -> BatchCounts:
    """Write one batch and the run's counters in a single transaction.

    Inputs whose file or SOP Instance UID and pixels are already archived become copies of
    the existing instance; a known UID with other pixels is recorded as a conflict of it.
    """
    instances = _unique([r for r in results if isinstance(r, Instance)])
    quarantined = [r for r in results if isinstance(r, Quarantined)]
    new, copies, conflicts = _classify(archive, instances)
    counts = _counts(new, copies, quarantined)
    counts.conflicts = conflicts
    with archive.registered(**_batch_views(run_id, new, copies, quarantined)), \
            archive.transaction():
        archive.script("commit_batch")
        _update_signatures(archive, new, settings)
        archive.run("run_batch_counts", [len(results) + skipped, counts.instances, counts.bytes,
                                         counts.recognised, counts.quarantined, skipped,
                                         run_id])
    return counts


def _unique(instances: list[Instance]) -> list[Instance]:
    seen: set[str] = set()
    out = []
    for inst in instances:
        if inst.location.key not in seen:
            seen.add(inst.location.key)
            out.append(inst)
    return out


def _classify(archive: Archive, instances: list[Instance]
              ) -> tuple[list[Instance], list[Instance], int]:
    """Split into new instances and copies of archived ones; count UID conflicts.

    A copy is a file already archived (same file hash) or an instance whose SOP Instance UID
    is archived with the same pixels. A known UID with other pixels is a new instance, a
    conflict: ``commit_batch.sql`` records which instance it conflicts with, and matching
    decides whether it is a lossy copy of it (``near``) or a genuine conflict.
    """
    if not instances:
        return [], [], 0
    keys = pl.DataFrame({"sop_uid": [i.sop_uid for i in instances],
                         "file_hash": [i.file_hash for i in instances]},
                        schema={"sop_uid": pl.String, "file_hash": pl.Binary})
    with archive.registered(batch_keys=keys):
        by_uid: dict[str, set[bytes | None]] = defaultdict(set)
        for uid, pixels in archive.run("batch_archived_uids").iter_rows():
            by_uid[uid].add(pixels)
        by_hash = set(archive.run("batch_archived_files")["file_hash"].to_list())
    new, copies, conflicts = [], [], 0
    for inst in instances:
        if inst.file_hash in by_hash or inst.pixel_hash in by_uid.get(inst.sop_uid, ()):
            copies.append(inst)
            continue
        conflicts += inst.sop_uid in by_uid
        by_uid[inst.sop_uid].add(inst.pixel_hash)
        new.append(inst)
    return new, copies, conflicts


def _batch_views(run_id: int, new: list[Instance], copies: list[Instance],
                 quarantined: list[Quarantined]) -> dict[str, pl.DataFrame]:
    """The views ``commit_batch.sql`` reads: batch_new, batch_copies, batch_quarantine."""
    run = pl.lit(run_id, pl.Int64)
    unique_q = {(q.location.key, q.reason.value): q for q in quarantined}
    return {
        "batch_new": pl.DataFrame([_instance_row(i, n) for n, i in enumerate(new)],
                                  schema=_NEW_SCHEMA).with_columns(run_id=run),
        "batch_copies": pl.DataFrame(
            [{"location": i.location.key, "size": i.location.size, "mtime": i.location.mtime,
              "file_hash": i.file_hash, "sop_uid": i.sop_uid, "pixel_hash": i.pixel_hash}
             for i in copies],
            schema={"location": pl.String, "size": pl.Int64, "mtime": pl.Float64,
                    "file_hash": pl.Binary, "sop_uid": pl.String, "pixel_hash": pl.Binary},
        ).with_columns(run_id=run),
        "batch_quarantine": pl.DataFrame(
            [{"location": loc, "reason": reason, "detail": q.detail, "size": q.location.size,
              "mtime": q.location.mtime, "remember": q.reason not in _RETRY}
             for (loc, reason), q in unique_q.items()],
            schema={"location": pl.String, "reason": pl.String, "detail": pl.String,
                    "size": pl.Int64, "mtime": pl.Float64, "remember": pl.Boolean},
        ).with_columns(run_id=run),
    }


_NEW_SCHEMA = {
    "ord": pl.Int64, "location": pl.String, "size": pl.Int64, "mtime": pl.Float64,
    "file_hash": pl.Binary, "sop_uid": pl.String, "sop_class_uid": pl.String,
    "study_uid": pl.String, "series_uid": pl.String, "transfer_syntax": pl.String,
    "issuer": pl.String, "patient_id": pl.String, "patient_name": pl.String,
    "birth_date": pl.String, "sex": pl.String, "institution": pl.String,
    "study_date": pl.String, "study_time": pl.String, "accession": pl.String,
    "study_description": pl.String, "procedure_code": pl.String, "modality": pl.String,
    "body_part": pl.String, "series_number": pl.Int32, "series_description": pl.String,
    "instance_number": pl.Int32, "rows": pl.Int32, "columns": pl.Int32, "frames": pl.Int32,
    "pixel_hash": pl.Binary, "blank": pl.Boolean, "detail": pl.Binary, "look": pl.Int64,
    "laterality": pl.String,
}


def _instance_row(inst: Instance, ordinal: int) -> dict[str, object]:
    row: dict[str, object] = {name: getattr(inst, name, None) for name in _NEW_SCHEMA}
    row.update(ord=ordinal, location=inst.location.key, size=inst.location.size,
               mtime=inst.location.mtime)
    return row


def _update_signatures(archive: Archive, new: list[Instance], settings: Settings) -> None:
    """Merge the batch's tokens and pixel hashes into each touched study's signatures."""
    if not new:
        return
    tokens: dict[str, dict[str, set[bytes]]] = defaultdict(lambda: {"header": set(),
                                                                    "pixel": set()})
    for inst in new:
        tokens[inst.study_uid]["header"].update(t.encode() for t in inst.tokens)
        if inst.pixel_hash is not None and not inst.blank:  # a blank frame links nothing
            tokens[inst.study_uid]["pixel"].add(inst.pixel_hash)
    keys = dict(archive.run("batch_study_keys").iter_rows())
    old = {(k, kind): from_blob(sig)
           for k, kind, sig in archive.run("batch_signatures").iter_rows()}
    sigs, bands = [], []
    for uid, kinds in tokens.items():
        for kind, values in kinds.items():
            sig = merge(old.get((keys[uid], kind)), minhash(values, settings.num_perm))
            sigs.append({"study_key": keys[uid], "kind": kind, "signature": to_blob(sig)})
            bands += [{"study_key": keys[uid], "kind": kind, "band": b, "band_key": key}
                      for b, key in enumerate(band_keys(sig, settings.lsh_bands))]
    replace_signatures(archive, pl.DataFrame(sigs, schema=SIGNATURE_SCHEMA),
                       pl.DataFrame(bands, schema=BAND_SCHEMA))


SIGNATURE_SCHEMA = {"study_key": pl.Int64, "kind": pl.String, "signature": pl.Binary}
BAND_SCHEMA = {"study_key": pl.Int64, "kind": pl.String, "band": pl.Int16, "band_key": pl.Int64}


def replace_signatures(archive: Archive, signatures: pl.DataFrame, bands: pl.DataFrame) -> None:
    """Replace the stored signatures and LSH band rows of the studies in the frames.

    Args:
        archive: a writable archive (inside the caller's transaction, if any).
        signatures: rows of :data:`SIGNATURE_SCHEMA`.
        bands: rows of :data:`BAND_SCHEMA`.

    """
    with archive.registered(batch_fingerprints=signatures, batch_bands=bands):
        archive.script("batch_replace_signatures")


def _counts(new: list[Instance], copies: list[Instance],
            quarantined: list[Quarantined]) -> BatchCounts:
    counts = BatchCounts(instances=len(new), bytes=sum(i.location.size for i in new),
                         recognised=len(copies), quarantined=len(quarantined),
                         studies={i.study_uid for i in new}, series={i.series_uid for i in new})
    for q in quarantined:
        counts.reasons[q.reason.value] += 1
    return counts

