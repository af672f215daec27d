"""Candidate pairs without a full scan: LSH band, shared-pixel and repeat joins, in SQL.

Each study's MinHash signatures (header tokens, instance pixel hashes) are stored as one row
per LSH band (``lsh_bands``); two studies whose Jaccard similarity is ``s`` share at least one
of ``b`` bands of ``r`` rows with probability ``1 - (1 - s**r)**b`` (0.9999 at s = 0.85 for
32 bands of 4 rows). The join is an equi-join on ``(kind, band, band_key)`` that DuckDB, or
any SQL engine, runs as a hash join. Bands find a high Jaccard, not containment, so pairs that
share any informative instance pixel hash are candidates too (another equi-join, on
``instances.pixel_hash``), and so are pairs with images that look alike at 32 x 32 (bands of
``instances.look``), which is how a lossy copy with a rewritten header is found. Repeat
candidates come from metadata instead: the same
(or a linked) patient, the same procedure family, within the family's look-back window.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import polars as pl

from dedup.archive.db import Archive
from dedup.match.verify import estimated_jaccard


def key_frame(keys: Iterable[int]) -> pl.DataFrame:
    """One ``study_key`` column, the shape of every key view the queries read."""
    return pl.DataFrame({"study_key": list(keys)}, schema={"study_key": pl.Int64})


@contextmanager
def queued(archive: Archive, keys: Sequence[int]) -> Iterator[None]:
    """Expose ``keys`` to the candidate queries as the view ``match_queue``."""
    with archive.registered(match_queue=key_frame(keys)):
        yield


def band_candidates(archive: Archive, min_header_jaccard: float) -> pl.DataFrame:
    """Pairs sharing a band, kept when they share a pixel band or look alike in the header.

    Args:
        archive: with the view ``match_queue`` registered (see :func:`queued`).
        min_header_jaccard: least estimated header Jaccard for a header-only candidate.

    Returns:
        ``study_key, other_key, pixel_bands, header_bands, header_jaccard``.

    """
    pairs = archive.run("band_candidates")
    return _header_filter(with_header_jaccard(archive, pairs), min_header_jaccard)


def _header_filter(pairs: pl.DataFrame, min_header_jaccard: float) -> pl.DataFrame:
    return pairs.filter((pl.col("pixel_bands") > 0)
                        | (pl.col("header_jaccard") >= min_header_jaccard))


def with_header_jaccard(archive: Archive, pairs: pl.DataFrame) -> pl.DataFrame:
    """Add ``header_jaccard``: the Jaccard estimated from the pair's header signatures."""
    if pairs.is_empty():
        return pairs.with_columns(header_jaccard=pl.lit(None, pl.Float64))
    keys = set(pairs["study_key"].to_list()) | set(pairs["other_key"].to_list())
    sigs = signatures(archive, sorted(keys), "header")
    return pairs.with_columns(header_jaccard=pl.Series(
        _header_jaccards(sigs, pairs["study_key"].to_list(), pairs["other_key"].to_list()),
        dtype=pl.Float64))


def _header_jaccards(sigs: dict[int, bytes], a: list[int], b: list[int]) -> list[float]:
    """:func:`estimated_jaccard` of each pair (``a[i]``, ``b[i]``) of keys.

    Signatures of one length (the usual case) are compared as one matrix, each decoded
    once: the share of equal values is a count over a length, so the same float.
    """
    lengths = {len(blob) for blob in sigs.values()}
    if len(lengths) != 1 or not a or not all(k in sigs for k in (*a, *b)):
        return [estimated_jaccard(sigs.get(x), sigs.get(y)) for x, y in zip(a, b, strict=True)]
    row = {key: n for n, key in enumerate(sigs)}
    matrix = np.frombuffer(b"".join(sigs.values()), "<u4").reshape(len(sigs), -1)
    equal = matrix[[row[k] for k in a]] == matrix[[row[k] for k in b]]
    return [float(v) for v in equal.mean(axis=1)]


def signatures(archive: Archive, keys: Sequence[int], kind: str) -> dict[int, bytes]:
    """Stored signatures of ``kind`` for ``keys``."""
    with archive.registered(wanted_keys=key_frame(keys)):
        return dict(archive.run("signatures_by_key", [kind]).iter_rows())


def repeat_candidates(archive: Archive, windows: dict[str, int]) -> pl.DataFrame:
    """Same person, same known family, within the window (``match_queue`` registered).

    Returns:
        ``study_key, other_key, family, window_days, days_apart, link_probability,
        link_reasons``.

    """
    lookback = pl.DataFrame({"family": list(windows), "days": list(windows.values())},
                            schema={"family": pl.String, "days": pl.Int64})
    with archive.registered(lookback_windows=lookback):
        return archive.run("repeat_candidates")


def uninformative_pixels(archive: Archive, pairs: pl.DataFrame, common_patients: int
                         ) -> pl.DataFrame:
    """Pixel hashes of the pairs' studies that are blank or held by many patients' studies.

    Returns:
        ``pixel_hash`` (see ``uninformative_pixels.sql``).

    """
    with archive.registered(candidate_pairs=pairs.select("study_key", "other_key").unique()):
        return archive.run("uninformative_pixels", [common_patients])


def pixel_overlap(archive: Archive, pairs: pl.DataFrame, uninformative: pl.DataFrame
                  ) -> pl.DataFrame:
    """Exact pixel-hash set overlap and reclaimable bytes of each pair (both directions).

    The ``uninformative`` pixel hashes are left out of the counts (``pixel_overlap.sql``).

    Returns:
        ``study_key, other_key, n_study, n_other, shared, bytes_study, bytes_other``.

    """
    with archive.registered(candidate_pairs=pairs.select("study_key", "other_key").unique(),
                            uninformative_pixels=uninformative):
        return archive.run("pixel_overlap")


def pixel_candidates(archive: Archive, common_patients: int) -> pl.DataFrame:
    """Pairs sharing an informative instance pixel hash (``match_queue`` registered).

    Returns:
        ``study_key, other_key``.

    """
    return archive.run("pixel_candidates", [common_patients])


def look_candidates(archive: Archive) -> pl.DataFrame:
    """Pairs with images that look alike at 32 x 32 (``match_queue`` registered).

    Returns:
        ``study_key, other_key``.

    """
    return archive.run("look_candidates")


def detail_signatures(archive: Archive, keys: Sequence[int], uninformative: pl.DataFrame
                      ) -> dict[int, list[bytes]]:
    """Acquisition signatures of each study's informative images, in instance order."""
    with archive.registered(wanted_keys=key_frame(keys), uninformative_pixels=uninformative):
        rows = archive.run("detail_signatures")
    return {key: list(hashes) for key, hashes in rows.iter_rows()}
