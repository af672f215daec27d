"""Verification speed: ``look_alike`` of every pair of studies of an archive, two checkouts.

Reads the acquisition signatures of every study of an archive (by default the one
``index_throughput.py`` leaves of the bench corpus), then times ``look_alike`` of every pair
of them as ``dedup.match.run`` verifies candidate pairs (where the code has signature sets,
each study's is made once, inside the clock), with this tree and with another checkout
(``--baseline``), each pass in a process of its own, passes alternating; wall and CPU time
(all threads: BLAS threads spinning on a busy machine count), best of the passes. The
verdicts of both must be the same, to the bit.

Usage: ``python benchmarks/verify_speed.py --baseline DIR [--archive PATH] [--passes 5]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from checkouts import run_under

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dedup-bench"


def signatures_sql() -> str:
    """Each study's acquisition signatures, in instance order (studies with any)."""
    return ("SELECT study_key, list(detail ORDER BY instance_key) FROM instances "
            "WHERE detail IS NOT NULL GROUP BY study_key ORDER BY study_key")


def one_pass(archive: str) -> dict[str, object]:
    """Time the verification of every pair of studies with the code on ``sys.path``."""
    from dedup.archive.db import Archive
    from dedup.config import Settings
    from dedup.fingerprint import detail
    from dedup.match.run import copy_limits
    from dedup.match.verify import look_alike

    with Archive.open(archive, read_only=True) as db:
        studies = [list(s) for _, s in db.query(signatures_sql()).iter_rows()]
    limits = copy_limits(Settings())
    wall, cpu = time.perf_counter(), time.process_time()
    make = getattr(detail, "signature_set", None)
    sets = [make(s) for s in studies] if make else studies
    verdicts = [look_alike(a, b, limits) for n, a in enumerate(sets) for b in sets[n + 1:]]
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
            "pairs": len(verdicts), "images": sum(map(len, studies)),
            "verdicts": hashlib.sha256(repr(verdicts).encode()).hexdigest()[:16]}


def _run(code: Path, archive: Path) -> dict[str, object]:
    result: dict[str, object] = run_under(code, __file__, "--pass", str(archive), cwd=code)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=False)
    parser.add_argument("--archive", type=Path,
                        default=CACHE / "archives" / "this" / "archive.duckdb")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--pass", dest="one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_pass(args.one)))
        return
    codes = {"this": REPO, **({"baseline": args.baseline} if args.baseline else {})}
    runs: dict[str, list[dict[str, object]]] = {name: [] for name in codes}
    for _ in range(args.passes):
        for name, code in codes.items():
            runs[name].append(_run(code, args.archive))
    first = runs["this"][0]
    print(f"{first['pairs']} pairs of studies, {first['images']} images; best of "
          f"{args.passes} passes")
    for name, passes in runs.items():
        wall = min(float(str(p["wall"])) for p in passes)
        cpu = min(float(str(p["cpu"])) for p in passes)
        print(f"  {name:9} wall {wall:8.3f} s  cpu {cpu:8.3f} s  verdicts {passes[0]['verdicts']}")
    verdicts = {str(p["verdicts"]) for passes in runs.values() for p in passes}
    print("  verdicts the same" if len(verdicts) == 1 else "  VERDICTS DIFFER")
    sys.exit(0 if len(verdicts) == 1 else 1)


if __name__ == "__main__":
    main()
