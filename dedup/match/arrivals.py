"""Duplicates inside one study: what an arrival brought that the study already held.

An arrival is the instances one run received for one study. Routers, re-sends and lossy
compression (DICOM requires a new SOP Instance UID after it) put copies under the Study
Instance UID of their source, where they merge into the archived study; comparing studies
with each other never sees them. So each queued study's arrivals are compared with what the
study held before:

* ``same-content``: instances whose pixel (or content) hash an earlier instance of the study
  has, under another SOP Instance UID;
* ``near``: lossy-compressed images of a later arrival at the size of an earlier image (or
  with an archived SOP Instance UID and other pixels) that are an acquisition-signature copy
  partner of it (``arrival_near_pairs.sql``). The rest of a study sent the next day, or a
  reconstruction added later, is stored without loss and is never compared so.

Each (study, kind) is one row with ``study_uid = duplicate_of_study_uid``, naming the first
arrival that brought such copies (``arrival_run``; the evidence lists them all) and the
bytes the duplicate instances take. Each such instance
is recorded as a copy of its source (``instances.copy_of``): it is not the study's content,
so the study's pixel set, signatures and bytes compared with other studies are those of its
originals. Copies that arrived in one run with their source are found by pixel hash only.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable

import numpy as np
import polars as pl

from dedup.archive.db import Archive
from dedup.fingerprint.detail import CopyLimits, copy_partners
from dedup.fingerprint.exposure import LOSSY_SYNTAXES
from dedup.match.classify import Duplicate, Study
from dedup.records import DuplicateKind


def within_studies(archive: Archive, studies: dict[int, Study], uninformative: pl.DataFrame,
                   limits: CopyLimits) -> tuple[list[Duplicate], pl.DataFrame]:
    """The duplicates inside each queued study, one per study and kind.

    Args:
        archive: with the view ``match_queue`` registered (see ``candidates.queued``).
        studies: the queued studies by key.
        uninformative: pixel hashes that are no evidence (``uninformative_pixels.sql``).
        limits: the least agreement of a copy and its source.

    Returns:
        The duplicates found (``study`` and ``duplicate_of`` the same study), and the copies:
        ``instance_key, source_key`` (what ``set_instance_copies.sql`` records).

    """
    with archive.registered(uninformative_pixels=uninformative):
        copies = archive.run("arrival_copies")
        pairs = archive.run("arrival_near_pairs", [list(LOSSY_SYNTAXES)])
        sizes = {(k, r): n for k, r, n in archive.run("arrival_sizes").iter_rows()}
    held = set(copies["instance_key"].to_list())
    lossy = _near_copies(pairs.filter(~pl.col("copy_key").is_in(list(held))), limits)
    same, near = _group(copies.iter_rows()), _group(lossy)
    sources = pl.DataFrame(
        [(key, source) for *_, key, _, source in (*copies.iter_rows(), *lossy)],
        schema={"instance_key": pl.Int64, "source_key": pl.Int64}, orient="row")
    out = []
    for kind, found in ((DuplicateKind.SAME_CONTENT, same), (DuplicateKind.NEAR, near)):
        for key, (count, size, arrivals) in sorted(found.items()):
            brought = sum(sizes[key, run] for run in arrivals)
            evidence = {"within_study": True, "arrival_runs": arrivals, "instances": count,
                        "arrival_instances": brought}
            score = 1.0 if kind is DuplicateKind.SAME_CONTENT else round(count / brought, 4)
            out.append(Duplicate(studies[key], studies[key], kind, score, size,
                                 json.dumps(evidence, sort_keys=True), key, arrivals[0]))
    return out, sources


_Copy = tuple[int, int, int, int, int]  # study_key, arrival_run, instance_key, bytes, source


def _group(rows: Iterable[_Copy]) -> dict[int, tuple[int, int, list[int]]]:
    """study_key -> (instances, bytes, the arrivals that brought them) of the copies.

    One row per study and kind, naming the first arrival: a run killed and resumed brings
    its copies in two runs, and the archive must be the same as after an undisturbed run.
    """
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    arrivals: dict[int, set[int]] = defaultdict(set)
    for study_key, arrival, _, size, _ in rows:
        totals[study_key][0] += 1
        totals[study_key][1] += size
        arrivals[study_key].add(arrival)
    return {key: (n, size, sorted(arrivals[key])) for key, (n, size) in totals.items()}


def _near_copies(pairs: pl.DataFrame, limits: CopyLimits) -> list[_Copy]:
    """The copy images with a copy partner among their candidate sources, once each."""
    found: list[_Copy] = []
    for (study_key,), group in pairs.group_by(["study_key"], maintain_order=True):
        copies = group.unique("copy_key", maintain_order=True)
        sources = group.unique("source_key", maintain_order=True)
        close, _ = copy_partners(copies["copy_detail"].to_list(),
                                 sources["source_detail"].to_list(), limits)
        row = {k: n for n, k in enumerate(copies["copy_key"].to_list())}
        column = {k: n for n, k in enumerate(sources["source_key"].to_list())}
        hits = np.array([close[row[c], column[s]] for c, s in
                         group.select("copy_key", "source_key").iter_rows()])
        partner: dict[int, int] = {}
        for copy, source in group.filter(pl.Series(hits, dtype=pl.Boolean)).select(
                "copy_key", "source_key").iter_rows():
            partner.setdefault(copy, source)
        found += [(int(study_key), arrival, key, size, partner[key]) for arrival, key, size in
                  copies.select("arrival_run", "copy_key", "copy_bytes").iter_rows()
                  if key in partner]
    return found
