"""Index throughput against a ceiling and a naive baseline, measured in the same run.

(a) ceiling: read every whole file and xxh3-hash it, no parsing;
(b) naive:   pydicom full ``dcmread`` + sha256 of PixelData;
    both in a pool of one process per core, started and warmed (imports done, a few files
    read) before the clock starts;
(c) ``dedup index``: the whole command a user runs (``python -m dedup index CORPUS`` into a
    fresh archive: start-up, reading, matching, publishing), timed from outside, with its
    own clock (the JSON summary's ``seconds``) beside it. ``--baseline DIR`` adds the same
    command run with the code of another checkout (e.g. an export of main), so before and
    after come from the same run.

Warm: the corpus is read once before every measurement. Cold: the corpus's pages are
evicted from the page cache before every measurement (``posix_fadvise(DONTNEED)`` on each
file, so nothing else on the machine loses its cache and no root is needed).

Every measurement is repeated ``--runs`` times (default 3), the approaches interleaved, and
the median is printed with the spread of the runs (a shared machine is noisy). Peak memory:
the largest process's peak RSS, and for ``dedup index`` the process tree's total, sampled.

The corpus (CT 512 x 512 slices plus MR and CR/DX) is generated once and cached outside the
repository (``--cache``, default ``~/.cache/dedup-bench``): 2.6 GB, or 0.3 GB with ``--quick``.

Usage: ``python benchmarks/index_throughput.py [--quick] [--runs 3] [--baseline DIR]``
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from multiprocessing import get_context
from multiprocessing.pool import Pool
from pathlib import Path

import psutil
import xxhash
from checkouts import checkout_env
from pydicom import dcmread

REPO = Path(__file__).resolve().parent.parent
_CHUNK = 32  # files per pool task


def generate(root: Path, gigabytes: float) -> list[Path]:
    """CT 512x512 studies plus MR and CR/DX until the corpus reaches ``gigabytes``.

    Each study has a seed of its own, of four digits: the synthetic UIDs hash their parts
    joined without a separator (seed 3, series 1, image 12 would make the UID of seed 31,
    series 1, image 2), so seeds of one width keep every UID of the corpus distinct.
    """
    from dedup.synth import INSTITUTIONS, Patient, write_study

    marker = root.with_name(root.name + ".complete")  # beside it: not an input to index
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        size, k = 0, 0
        while size < gigabytes * 1e9:
            patient = Patient(f"BENCH^PATIENT{k}", f"B{k:05d}", "BENCH", date(1960, 1, 1 + k % 28),
                              "MF"[k % 2], person=k)
            for j, (modality, slices) in enumerate((("CT", 120), ("MR", 24), ("XR", 1))):
                write_study(root / f"p{k}", modality=modality, patient=patient,
                            seed=1000 + 3 * k + j,
                            study_date=date(2025, 1, 1 + k % 28), slices=slices,
                            institution=INSTITUTIONS[k % len(INSTITUTIONS)])
            size = sum(p.stat().st_size for p in root.rglob("*.dcm"))
            k += 1
        marker.touch()
    return sorted(root.rglob("*.dcm"))


Chunk = tuple[int, int, float]  # bytes, the worker's peak RSS (KiB), CPU seconds of the chunk


def _ceiling(paths: list[str]) -> Chunk:
    total, cpu = 0, time.process_time()
    for path in paths:
        with open(path, "rb") as fh:
            data = fh.read()
        xxhash.xxh3_128_digest(data)
        total += len(data)
    return total, _own_peak_kib(), time.process_time() - cpu


def _naive(paths: list[str]) -> Chunk:
    total, cpu = 0, time.process_time()
    for path in paths:
        ds = dcmread(path)
        hashlib.sha256(ds.PixelData).digest()
        total += os.path.getsize(path)
    return total, _own_peak_kib(), time.process_time() - cpu


def _own_peak_kib() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _started(_: int) -> int:
    time.sleep(0.05)  # long enough that every worker takes one
    return os.getpid()


@dataclass
class Measured:
    """One measurement: wall seconds, the command's own clock, peak memory (KiB)."""

    seconds: float
    own_seconds: float | None = None
    peak_kib: int = 0
    tree_kib: int | None = None
    reading_seconds: float | None = None  # until the workers ended (before matching)
    cpu_seconds: float = 0.0  # of every process, user and system


@dataclass
class Approach:
    """A way to index the corpus, and its measurements."""

    name: str
    run: Callable[[], Measured]
    results: dict[str, list[Measured]] = field(default_factory=dict)


def pooled(pool: Pool, fn: Callable[[list[str]], Chunk], files: list[str]) -> Measured:
    """Time ``fn`` over the corpus in chunks on a started, warmed pool."""
    chunks = [files[i:i + _CHUNK] for i in range(0, len(files), _CHUNK)]
    start = time.perf_counter()
    results = list(pool.imap_unordered(fn, chunks))
    seconds = time.perf_counter() - start
    return Measured(seconds, peak_kib=max(peak for _, peak, _ in results),
                    cpu_seconds=sum(cpu for *_, cpu in results))


def warmed_pool(fn: Callable[[list[str]], Chunk], files: list[str],
                processes: int) -> Pool:
    """A pool whose workers are running and have run ``fn`` on a few files."""
    pool = get_context("fork").Pool(processes)
    assert len(set(pool.map(_started, range(4 * processes), chunksize=1))) == processes
    pool.map(fn, [files[:4]] * (4 * processes), chunksize=1)
    return pool


def dedup_index(corpus: Path, archive: Path, code: Path) -> Measured:
    """Run ``dedup index`` with the code in ``code``, as a user runs it, into a fresh archive."""
    shutil.rmtree(archive.parent, ignore_errors=True)
    archive.parent.mkdir(parents=True)
    env = checkout_env(code)
    cmd = [sys.executable, "-m", "dedup", "index", str(corpus), "--archive", str(archive),
           "--format", "json"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=archive.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    tree, workers_end = _sample_tree(proc, start)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.stdout is not None
    out = proc.stdout.read()
    if proc.returncode:
        raise SystemExit(f"dedup index with {code} failed ({proc.returncode}): {out!r}")
    summary = json.loads(out)
    return Measured(seconds, summary["seconds"], usage.ru_maxrss, tree, workers_end,
                    usage.ru_utime + usage.ru_stime)


def _sample_tree(proc: subprocess.Popen[bytes], start: float) -> tuple[int, float | None]:
    """Sample ``proc``'s process tree every 0.1 s until it exits.

    Returns its peak total RSS (KiB) and when its worker processes (the forkserver's
    children) were last seen, in seconds from ``start``: the end of reading and
    fingerprinting, before matching.
    """
    peak, workers_seen = 0, None
    root = psutil.Process(proc.pid)
    while True:
        try:
            if root.status() == psutil.STATUS_ZOMBIE:
                return peak, workers_seen
            members = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return peak, workers_seen
        total = 0
        for member in members:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += member.memory_info().rss
                if "forkserver" in " ".join(member.parent().cmdline()):
                    workers_seen = time.perf_counter() - start
        peak = max(peak, total // 1024)
        time.sleep(0.1)


def warm(files: list[str]) -> None:
    """Bring the whole corpus into the page cache."""
    for path in files:
        with open(path, "rb") as fh:
            while fh.read(1 << 22):
                pass


def evict(files: list[str]) -> None:
    """Drop the corpus's pages from the page cache (its files only, no root needed)."""
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def measure(approaches: list[Approach], files: list[str], modes: list[str], runs: int) -> None:
    """Run every approach ``runs`` times per cache mode, interleaved."""
    for mode in modes:
        for run in range(runs):
            for approach in approaches:
                warm(files) if mode == "warm" else evict(files)
                result = approach.run()
                approach.results.setdefault(mode, []).append(result)
                print(f"  {mode} run {run + 1}: {approach.name}: {result.seconds:.2f} s",
                      file=sys.stderr, flush=True)


def _median_rate(files: int, seconds: list[float | None]) -> float | None:
    known = [s for s in seconds if s]
    return files / statistics.median(known) if known else None


def report(approaches: list[Approach], files: int, nbytes: int, mode: str
           ) -> dict[str, dict[str, float | None]]:
    """Print one cache mode's table; return the median files/s by approach and clock."""
    print(f"\n{mode} page cache (median of {len(approaches[0].results[mode])} runs)")
    print(f"  {'':44} {'files/s':>8} {'MB/s':>6} {'spread':>7} {'own clock':>10} "
          f"{'reading':>8} {'CPU ms/file':>12} {'peak RSS':>9} {'tree RSS':>9}")
    rates: dict[str, dict[str, float | None]] = {}
    for approach in approaches:
        results = approach.results[mode]
        seconds = [r.seconds for r in results]
        rate = rates[approach.name] = {
            "whole": _median_rate(files, list(seconds)),
            "own": _median_rate(files, [r.own_seconds for r in results]),
            "reading": _median_rate(files, [r.reading_seconds for r in results])}
        spread = (max(seconds) - min(seconds)) / statistics.median(seconds)
        texts = [f"{rate[k]:{w}.0f}" if rate[k] else " " * w
                 for k, w in (("own", 10), ("reading", 8))]
        texts.append(f"{statistics.median(r.cpu_seconds for r in results) / files * 1e3:12.2f}")
        tree = [r.tree_kib for r in results if r.tree_kib]
        tree_text = f"{max(tree) / 1024:6.0f} MB" if tree else ""
        print(f"  {approach.name:44} {rate['whole']:8.0f} "
              f"{nbytes * (rate['whole'] or 0) / files / 1e6:6.0f} {spread:6.0%} "
              f"{' '.join(texts)} {max(r.peak_kib for r in results) / 1024:6.0f} MB "
              f"{tree_text:>9}")
    return rates


def ratios(rates: dict[str, dict[str, float | None]]) -> str:
    """Each ``dedup index`` against the ceiling, the naive way and the baseline."""
    ceiling, naive, *dedups = (rates[name] for name in rates)
    lines = []
    for clock in ("whole", "reading"):
        parts = []
        for name, rate in zip(list(rates)[2:], dedups, strict=True):
            if rate[clock]:
                parts.append(f"{name.split(':')[0]} {rate[clock] / (ceiling['whole'] or 1):.2f} "
                             f"of the ceiling, {rate[clock] / (naive['whole'] or 1):.2f}x naive")
        if len(dedups) == 2 and dedups[0][clock] and dedups[1][clock]:
            parts.append(f"after/before {(dedups[1][clock] or 0) / dedups[0][clock]:.2f}x")
        lines.append(f"  {clock:8} " + "; ".join(parts))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 0.3 GB corpus")
    parser.add_argument("--gb", type=float, help="corpus size in GB (default 2.6, quick 0.3)")
    parser.add_argument("--runs", type=int, default=3, help="repetitions (medians printed)")
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get(
        "XDG_CACHE_HOME", Path.home() / ".cache")) / "dedup-bench")
    parser.add_argument("--baseline", type=Path, help="another checkout's root: its "
                        "`dedup index` is measured too (before/after in one run)")
    parser.add_argument("--modes", default="warm,cold", help="warm, cold or both")
    args = parser.parse_args()
    gigabytes = args.gb or (0.3 if args.quick else 2.6)
    corpus = args.cache / f"corpus-v3-{gigabytes:g}gb"
    paths = [str(p) for p in generate(corpus, gigabytes)]
    nbytes = sum(os.path.getsize(p) for p in paths)
    cores = os.cpu_count() or 1
    print(f"corpus: {len(paths)} files, {nbytes / 1e9:.2f} GB in {corpus}; {cores} cores")
    scratch = args.cache / "archives"
    ceiling, naive = warmed_pool(_ceiling, paths, cores), warmed_pool(_naive, paths, cores)
    approaches = [Approach("(a) ceiling: read + xxh3, warmed pool",
                           lambda: pooled(ceiling, _ceiling, paths)),
                  Approach("(b) naive: dcmread + sha256, warmed pool",
                           lambda: pooled(naive, _naive, paths))]
    if args.baseline:
        approaches.append(Approach(f"(c0) dedup index: {args.baseline}", lambda: dedup_index(
            corpus, scratch / "baseline" / "archive.duckdb", args.baseline)))
    approaches.append(Approach(f"(c) dedup index: {REPO}", lambda: dedup_index(
        corpus, scratch / "this" / "archive.duckdb", REPO)))
    modes = [m.strip() for m in args.modes.split(",")]
    try:
        measure(approaches, paths, modes, args.runs)
    finally:
        ceiling.terminate()
        naive.terminate()
    for mode in modes:
        print(ratios(report(approaches, len(paths), nbytes, mode)))
    print("\nspread: (slowest - fastest) / median of the runs; own clock: the files/s "
          "`dedup index` reports (its summary's seconds); reading: files/s from the start "
          "until its workers ended (start-up, reading, fingerprinting, commits; no "
          "matching); CPU ms/file: user + system time of all its processes per file (less "
          "sensitive to other load than wall time); tree RSS: all its processes")


if __name__ == "__main__":
    main()
