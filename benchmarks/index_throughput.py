"""Index throughput against a ceiling and a naive baseline, measured in the same run.

(a) ceiling: read every whole file and xxh3-hash it, no parsing (2 processes);
(b) naive:   pydicom full ``dcmread`` + sha256 of PixelData (2 processes);
(c) dedup:   ``dedup index`` into a fresh archive (all cores).

Each is measured on a warm page cache and, where the machine lets us drop caches
(``/proc/sys/vm/drop_caches``), a cold one. Prints files/s, MB/s, the ratios c/a and c/b,
and the peak resident memory of each approach's largest process.

Usage: ``python benchmarks/index_throughput.py [--gb 1.2] [--dir /tmp/dedup-bench]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import xxhash
from pydicom import dcmread

from dedup.synth import INSTITUTIONS, Patient, write_study


def generate(root: Path, gigabytes: float) -> list[Path]:
    """CT 512x512 studies plus MR and CR/DX until the corpus reaches ``gigabytes``."""
    marker = root / f".complete-{gigabytes}"
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        size, k = 0, 0
        while size < gigabytes * 1e9:
            patient = Patient(f"BENCH^PATIENT{k}", f"B{k:05d}", "BENCH", date(1960, 1, 1 + k % 28),
                              "MF"[k % 2], person=k)
            for modality, slices in (("CT", 120), ("MR", 24), ("XR", 1)):
                write_study(root / f"p{k}", modality=modality, patient=patient, seed=k,
                            study_date=date(2025, 1, 1 + k % 28), slices=slices,
                            institution=INSTITUTIONS[k % len(INSTITUTIONS)])
            size = sum(p.stat().st_size for p in root.rglob("*.dcm"))
            k += 1
        marker.touch()
    return sorted(root.rglob("*.dcm"))


def _ceiling(paths: list[str]) -> int:
    total = 0
    for path in paths:
        with open(path, "rb") as fh:
            data = fh.read()
        xxhash.xxh3_128_digest(data)
        total += len(data)
    return total


def _naive(paths: list[str]) -> int:
    total = 0
    for path in paths:
        ds = dcmread(path)
        hashlib.sha256(ds.PixelData).digest()
        total += os.path.getsize(path)
    return total


def pooled(fn_name: str, files: list[Path]) -> tuple[float, int]:
    """Run ``fn_name`` in a subprocess pool of 2 over chunks; return (seconds, peak RSS KiB)."""
    code = (
        "import sys, json, time; from multiprocessing import get_context\n"
        "sys.path.insert(0, 'benchmarks'); import index_throughput as b\n"
        "files = json.load(sys.stdin)\n"
        "chunks = [files[i:i + 32] for i in range(0, len(files), 32)]\n"
        "t = time.perf_counter()\n"
        "with get_context('spawn').Pool(2) as pool:\n"
        f"    sum(pool.imap_unordered(b.{fn_name}, chunks))\n"
        "print(time.perf_counter() - t)\n"
    )
    return _timed_subprocess([sys.executable, "-c", code], json.dumps([str(f) for f in files]))


def dedup_index(root: Path, archive: Path) -> tuple[float, int]:
    """Run ``dedup index`` as a subprocess; return (seconds of indexing, peak RSS KiB)."""
    for suffix in ("", ".wal", ".lock"):
        Path(f"{archive}{suffix}").unlink(missing_ok=True)
    env = {**os.environ, "DEDUP_PUBLISH": "0"}
    cmd = [sys.executable, "-m", "dedup", "index", str(root), "--archive", str(archive),
           "--format", "json"]
    seconds, rss, out = _run(cmd, None, env)
    return json.loads(out)["seconds"] or seconds, rss


def _timed_subprocess(cmd: list[str], stdin: str) -> tuple[float, int]:
    _, rss, out = _run(cmd, stdin, None)
    return float(out.strip().splitlines()[-1]), rss


_RSS_WRAPPER = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
                "print('RSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
                "file=sys.stderr)")


def _run(cmd: list[str], stdin: str | None, env: dict[str, str] | None) -> tuple[float, int, str]:
    """Run ``cmd``; return (wall seconds, peak RSS KiB of its largest process, stdout)."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _RSS_WRAPPER, *cmd], input=stdin,
                          capture_output=True, text=True, env=env, check=True)
    seconds = time.perf_counter() - t
    rss = int(proc.stderr.rsplit("RSS", 1)[1].split()[0])
    return seconds, rss, proc.stdout


def drop_caches() -> bool:
    """Drop the page cache if this machine allows it (root, writable /proc)."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.2, help="corpus size in GB (>= 1)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/dedup-bench"))
    args = parser.parse_args()
    files = generate(args.dir / "corpus", args.gb)
    nbytes = sum(f.stat().st_size for f in files)
    print(f"corpus: {len(files)} files, {nbytes / 1e9:.2f} GB, {os.cpu_count()} cores")
    archive = args.dir / "bench.duckdb"
    modes = ["warm"] + (["cold"] if drop_caches() else [])
    if "cold" not in modes:
        print("cold cache: not measured (cannot write /proc/sys/vm/drop_caches here)")
    for mode in modes:
        results = {}
        for name, run in (("a ceiling", lambda: pooled("_ceiling", files)),
                          ("b naive", lambda: pooled("_naive", files)),
                          ("c dedup", lambda: dedup_index(args.dir / "corpus", archive))):
            if mode == "warm":
                _ceiling([str(f) for f in files])  # warm the page cache
            else:
                drop_caches()
            results[name] = run()
        print(f"\n{mode} page cache")
        for name, (seconds, rss) in results.items():
            print(f"  {name:10} {len(files) / seconds:8.0f} files/s "
                  f"{nbytes / seconds / 1e6:8.0f} MB/s   peak RSS {rss / 1024:6.0f} MB")
        a, b, c = (results[k][0] for k in ("a ceiling", "b naive", "c dedup"))
        print(f"  c/a = {a / c:.2f}   c/b = {b / c:.2f}   (throughput ratios)")


if __name__ == "__main__":
    main()
