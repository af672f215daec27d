"""Matching accuracy: labelled corpora and a population without duplicates.

A thin wrapper over :mod:`dedup.evaluate` (also ``dedup eval``), kept for ``make eval``.
Usage: ``python benchmarks/eval_matching.py --out /tmp/eval --seeds 4``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dedup.evaluate import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("eval-out"))
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--patients", type=int, default=6)
    parser.add_argument("--ct-slices", type=int, default=4)
    parser.add_argument("--population", type=int, default=1000,
                        help="studies of the population without duplicates (0: none)")
    parser.add_argument("--population-patients", type=int, default=300)
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    result = evaluate(args.out, seeds=args.seeds, patients=args.patients,
                      ct_slices=args.ct_slices, population_studies=args.population,
                      population_patients=args.population_patients,
                      progress=lambda line: print(line, file=sys.stderr))
    if args.json:
        args.json.write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    print(result.markdown())


if __name__ == "__main__":
    main()
