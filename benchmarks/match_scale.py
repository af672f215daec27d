"""Matching at scale: LSH band join of 10k incoming studies against 1M archived signatures.

Builds a synthetic archive of signatures and band rows only (no files): random MinHash
signatures (what disjoint token sets give) plus, for a fifth of the incoming studies, a
planted partner in the archive whose signature agrees in a random share of positions
(Jaccard 0.3 to 1). Times the product's candidate query (``band_candidates.sql``) and the
verification of each candidate on its signatures, then compares with brute force: all-pairs
Jaccard of an incoming sample against a 10k archive sample, extrapolated to the full size,
and the LSH recall of the brute-force pairs above the threshold.

Usage: ``python benchmarks/match_scale.py [--archived 1000000] [--incoming 10000]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from dedup.archive.db import Archive
from dedup.archive.writer import replace_signatures
from dedup.match.candidates import queued

PERM, BANDS, THRESHOLD = 128, 32, 0.5


def band_rows(keys: np.ndarray, sigs: np.ndarray) -> pl.DataFrame:
    """One row per (study, band): a 64-bit mix of the band's 4 values (vectorised)."""
    rows = sigs.reshape(len(sigs), BANDS, PERM // BANDS).astype(np.uint64)
    mix = np.zeros(rows.shape[:2], dtype=np.uint64)
    for i, prime in enumerate((0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F,
                               0x165667B19E3779F9, 0x27D4EB2F165667C5)):
        mix ^= (rows[:, :, i] + np.uint64(i + 1)) * np.uint64(prime)
        mix = (mix << np.uint64(31)) | (mix >> np.uint64(33))
    return pl.DataFrame({"study_key": np.repeat(keys, BANDS), "kind": "pixel",
                         "band": np.tile(np.arange(BANDS, dtype=np.int16), len(keys)),
                         "band_key": mix.ravel().view(np.int64)})


def build(archive: Archive, archived: int, incoming: int, rng: np.random.Generator
          ) -> np.ndarray:
    """Fill the archive; return all signatures (archived first, then incoming)."""
    sigs = rng.integers(0, 2**32, (archived + incoming, PERM), dtype=np.uint32)
    planted = rng.choice(incoming, incoming // 5, replace=False)
    sources = rng.choice(min(archived, 10_000), len(planted))
    share = rng.uniform(0.3, 1.0, len(planted))
    for i, src, s in zip(planted, sources, share, strict=True):
        same = rng.random(PERM) < s
        sigs[archived + i, same] = sigs[src, same]
    keys = np.arange(1, archived + incoming + 1, dtype=np.int64)
    for start in range(0, len(keys), 200_000):
        part = slice(start, start + 200_000)
        signatures = pl.DataFrame({"study_key": keys[part], "kind": "pixel",
                                   "signature": [s.tobytes() for s in sigs[part]]})
        replace_signatures(archive, signatures, band_rows(keys[part], sigs[part]))
    return sigs


def lsh_match(archive: Archive, sigs: np.ndarray, queue: np.ndarray) -> set[tuple[int, int]]:
    """The product's band join, then exact verification on the candidates' signatures."""
    with queued(archive, queue.tolist()):
        pairs = archive.run("band_candidates")
    a = pairs["study_key"].to_numpy() - 1
    b = pairs["other_key"].to_numpy() - 1
    jaccard = (sigs[a] == sigs[b]).mean(axis=1)
    keep = jaccard >= THRESHOLD
    return set(zip(a[keep].tolist(), b[keep].tolist(), strict=True))


def brute(sigs: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> set[tuple[int, int]]:
    """All-pairs estimated Jaccard of ``rows`` x ``cols``."""
    found = set()
    for r in rows:
        jaccard = (sigs[cols] == sigs[r]).mean(axis=1)
        found |= {(int(r), int(c)) for c in cols[jaccard >= THRESHOLD]}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archived", type=int, default=1_000_000)
    parser.add_argument("--incoming", type=int, default=10_000)
    parser.add_argument("--brute-rows", type=int, default=1_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp, \
            Archive.open(Path(tmp) / "scale.duckdb") as archive:
        t = time.perf_counter()
        sigs = build(archive, args.archived, args.incoming, rng)
        print(f"built {args.archived:,} archived + {args.incoming:,} incoming signatures "
              f"({BANDS} bands) in {time.perf_counter() - t:.0f} s")
        queue = np.arange(args.archived + 1, args.archived + args.incoming + 1)
        t = time.perf_counter()
        found = lsh_match(archive, sigs, queue)
        lsh_s = time.perf_counter() - t
        sample = np.arange(min(args.archived, 10_000))
        rows = args.archived + np.arange(min(args.brute_rows, args.incoming))
        t = time.perf_counter()
        truth = brute(sigs, rows, np.concatenate([sample]))
        brute_s = time.perf_counter() - t
    scale = (args.incoming / len(rows)) * (args.archived / len(sample))
    in_sample = {(a, b) for a, b in found if a in set(rows.tolist()) and b < len(sample)}
    recall = len(truth & in_sample) / len(truth) if truth else 1.0
    print(f"LSH match: {args.incoming:,} incoming vs {args.archived:,} archived in "
          f"{lsh_s:.1f} s = {args.incoming / lsh_s:,.0f} studies/s, {len(found):,} pairs "
          f"with Jaccard >= {THRESHOLD}")
    print(f"brute force: {len(rows):,} x {len(sample):,} pairs in {brute_s:.1f} s; "
          f"extrapolated to the full size {brute_s * scale:,.0f} s; "
          f"LSH is {brute_s * scale / lsh_s:,.0f}x faster")
    print(f"LSH recall against brute force: {recall:.4f} ({len(truth & in_sample)} of "
          f"{len(truth)} pairs with Jaccard >= {THRESHOLD})")


if __name__ == "__main__":
    main()
