"""How `dedup index` grows with a population of look-alike studies: reading against matching.

``match_scale.py`` times the band join on random signatures, which share nothing. Real
archives hold many patients scanned on the same devices with the same protocols, whose
headers and coarse looks agree: candidate pairs then grow with the square of the studies of
a protocol, and a backfill can be bound by matching, not by reading. This benchmark indexes
populations without duplicates (``dedup.synth.population``: 3 studies per patient on average,
CT, MR, US, DX and CR on a few protocols, twins and namesakes) of growing size into fresh
archives, as a user runs ``dedup index``, and splits each run's time into the part until
its worker processes end (start-up, reading, fingerprinting, commits) and the rest
(matching, publishing). ``--baseline DIR`` runs another checkout's code on the same
populations in the same run. The populations are generated once into ``--cache``.

Prints, per size and code: files, seconds until the workers end, seconds after, and the
growth exponent of each part between sizes (1: linear, 2: quadratic).

Usage: ``python benchmarks/match_growth.py [--sizes 150,300,600] [--baseline DIR]``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
from pathlib import Path

from index_throughput import REPO, dedup_index  # a sibling script (its folder is on the path)

from dedup.synth.population import make_population


def population(cache: Path, studies: int) -> Path:
    """The population of ``studies`` studies (a third as many people), generated once."""
    root = cache / f"population-{studies}"
    marker = root.with_name(root.name + ".complete")
    if not marker.exists():
        make_population(root, patients=max(3, min(400, studies // 3)), studies=studies)
        marker.touch()
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="150,300,600", help="studies per population")
    parser.add_argument("--baseline", type=Path, help="another checkout's root")
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get(
        "XDG_CACHE_HOME", Path.home() / ".cache")) / "dedup-bench")
    args = parser.parse_args()
    codes = ([("before", args.baseline)] if args.baseline else []) + [("now", REPO)]
    sizes = [int(size) for size in args.sizes.split(",")]
    rows: dict[str, list[tuple[int, float, float]]] = {name: [] for name, _ in codes}
    print(f"{'studies':>8} {'code':>7} {'files':>6} {'until workers end':>18} "
          f"{'after (matching)':>17}")
    for studies in sizes:
        corpus = population(args.cache, studies)
        files = sum(1 for p in corpus.rglob("*") if p.is_file())
        for name, code in codes:
            run = dedup_index(corpus, args.cache / "archives" / f"growth-{name}" /
                              "archive.duckdb", code)
            reading = run.reading_seconds or run.seconds
            rows[name].append((studies, reading, run.seconds - reading))
            print(f"{studies:8} {name:>7} {files:6} {reading:17.2f}s "
                  f"{run.seconds - reading:16.2f}s", flush=True)
    for name, measured in rows.items():
        for (n0, r0, m0), (n1, r1, m1) in itertools.pairwise(measured):
            grow = math.log(n1 / n0)
            print(f"{name}: {n0} -> {n1} studies: until workers end x{r1 / r0:.2f} "
                  f"(exponent {math.log(r1 / r0) / grow:.2f}), after x{m1 / m0:.2f} "
                  f"(exponent {math.log(m1 / m0) / grow:.2f})")


if __name__ == "__main__":
    main()
