"""Per-file cost of each stage of indexing, in one worker process on one core.

Each file of the corpus goes through the stages of ``fingerprint_location`` one at a time,
each timed with the thread's CPU clock (so other processes on a shared machine do not count,
though they still share the caches), and the per-file microseconds of each stage are printed
as the median of ``--runs`` passes, for the whole corpus and by image size:

* read: ``read_location`` less the file hash and the header walk (open, read or map,
  character set, checks);
* file hash: xxh3-128 of the file's bytes; header walk: ``parse``;
* pixels: ``pixel_format`` + ``canonical_pixels``; blank: ``is_constant``;
  pixel hash: ``pixel_hash``; acquisition: ``detail.acquisition``; tokens: ``header_tokens``;
* record: the rest of ``fingerprint`` (the Instance and its fields);
* transfer: a task's result pickled in the worker (as ``fingerprint_many`` returns it) and
  unpickled in the parent;
* total: ``fingerprint_location`` as the worker runs it, and the same less acquisition.

``--baseline DIR`` measures another checkout's code too, passes alternating, so before and
after come from the same run. The corpus defaults to the one ``index_throughput.py`` caches.

Usage: ``python benchmarks/worker_stages.py [--files 600] [--runs 5] [--baseline DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from checkouts import run_under

REPO = Path(__file__).resolve().parent.parent
STAGES = ("read", "file hash", "header walk", "pixels", "blank", "pixel hash", "acquisition",
          "tokens", "record", "transfer", "total", "total less acquisition")


def _timer() -> Callable[[Callable[..., Any], Any], tuple[Any, int]]:
    """A function timing one call in thread CPU nanoseconds, its own overhead removed."""
    clock = time.thread_time_ns
    overhead = min(-(clock() - clock()) for _ in range(2000))

    def timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, int]:
        start = clock()
        result = fn(*args)
        return result, max(clock() - start - overhead, 0)

    return timed


def measure(paths: list[str]) -> dict[str, dict[str, float]]:
    """One pass: total microseconds of each stage, by image size group and for all files."""
    import xxhash

    from dedup.config import Settings
    from dedup.fingerprint import instance
    from dedup.fingerprint.detail import acquisition
    from dedup.fingerprint.pixels import is_constant, pixel_hash
    from dedup.fingerprint.tokens import header_tokens
    from dedup.ingest.parse import parse
    from dedup.ingest.read import read_location
    from dedup.records import Instance, Location

    settings, timed = Settings(), _timer()
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for path in paths:
        location = Location(path, None, os.path.getsize(path), os.path.getmtime(path))
        t: dict[str, int] = {}
        dicom, reading = timed(read_location, location, settings)
        _, t["file hash"] = timed(xxhash.xxh3_128_digest, dicom.data)
        _, t["header walk"] = timed(parse, dicom.data)
        t["read"] = max(reading - t["file hash"] - t["header walk"], 0)
        fmt, t["pixels"] = timed(instance.pixel_format, dicom)
        pixels, canonical = timed(instance.canonical_pixels, dicom, fmt)
        t["pixels"] += canonical
        _, t["blank"] = timed(is_constant, pixels)
        _, t["pixel hash"] = timed(pixel_hash, fmt, pixels)
        _, t["acquisition"] = timed(acquisition, pixels)
        _, t["tokens"] = timed(header_tokens, dicom.header.values)
        _, whole = timed(instance.fingerprint, dicom)
        parts = ("pixels", "blank", "pixel hash", "acquisition", "tokens")
        t["record"] = max(whole - sum(t[k] for k in parts), 0)
        sent, t["transfer"] = timed(pickle.dumps, instance.fingerprint_many([location],
                                                                      settings))
        _, received = timed(_received, sent, getattr(instance, "unpack", None))
        t["transfer"] += received
        result, t["total"] = timed(instance.fingerprint_location, location, settings)
        assert isinstance(result, Instance)
        t["total less acquisition"] = max(t["total"] - t["acquisition"], 0)
        group = f"{fmt.rows}x{fmt.columns}x{fmt.frames}"
        for key in ("all", group):
            sums[key]["files"] += 1
            for stage, ns in t.items():
                sums[key][stage] += ns / 1000
    return {group: dict(values) for group, values in sums.items()}


def _received(sent: bytes, unpack: Callable[[Any], Any] | None) -> list[Any]:
    """A task's results as the parent gets them (unpacked, where the code packs them)."""
    results = pickle.loads(sent)
    return [unpack(r) for r in results] if unpack else results


def _worker(paths_file: str, core: int) -> None:
    if core >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    paths = json.loads(Path(paths_file).read_text())
    measure(paths[: min(len(paths), 50)])  # warm: imports, caches, lazy tables
    print(json.dumps(measure(paths)))


def run_pass(code: Path, paths_file: Path, core: int) -> dict[str, dict[str, float]]:
    """One pass in a fresh process that imports ``dedup`` from ``code``."""
    result: dict[str, dict[str, float]] = run_under(code, __file__, "--worker", str(paths_file),
                                                    "--core", str(core))
    return result


def table(name: str, passes: list[dict[str, dict[str, float]]]) -> dict[str, float]:
    """Print per-file microseconds by stage (median of passes); return them for 'all'."""
    groups = sorted(passes[0], key=lambda g: (g != "all", -passes[0][g]["files"]))
    print(f"\n{name}: per-file microseconds, median of {len(passes)} passes")
    print(f"  {'stage':24}" + "".join(f"{g:>14}" for g in groups))
    print(f"  {'files':24}" + "".join(f"{passes[0][g]['files']:14.0f}" for g in groups))
    medians: dict[str, float] = {}
    for stage in STAGES:
        row = []
        for group in groups:
            value = statistics.median(p[group][stage] / p[group]["files"] for p in passes)
            row.append(f"{value:14.1f}")
            if group == "all":
                medians[stage] = value
        print(f"  {stage:24}" + "".join(row))
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path(os.environ.get(
        "XDG_CACHE_HOME", Path.home() / ".cache")) / "dedup-bench" / "corpus-v3-2.6gb")
    parser.add_argument("--files", type=int, default=600, help="files, spread over the corpus")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--core", type=int, default=1, help="CPU to pin to (-1: none)")
    parser.add_argument("--baseline", type=Path, help="another checkout's root")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.core)
        return
    every = sorted(str(p) for p in args.corpus.rglob("*.dcm"))
    if not every:
        raise SystemExit(f"no .dcm files under {args.corpus}: run index_throughput.py first")
    paths = every[:: max(1, len(every) // args.files)][: args.files]
    paths_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"worker-stages-{os.getpid()}.json"
    paths_file.write_text(json.dumps(paths))
    codes = {"this": REPO, **({"baseline": args.baseline} if args.baseline else {})}
    passes: dict[str, list[dict[str, dict[str, float]]]] = {name: [] for name in codes}
    try:
        for _ in range(args.runs):
            for name, code in codes.items():
                passes[name].append(run_pass(code, paths_file, args.core))
    finally:
        paths_file.unlink()
    results = {f"{name} ({code})": table(f"{name} ({code})", passes[name])
               for name, code in codes.items()}
    if args.baseline:
        (after, before) = results.values()
        print("\n  after / before: " + ", ".join(
            f"{stage} {after[stage] / before[stage]:.2f}" for stage in STAGES
            if before[stage] > 0))


if __name__ == "__main__":
    main()
