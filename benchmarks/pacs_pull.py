"""Instances per second pulled from Orthanc over DICOMweb on loopback, against storescu.

1. Writes a folder of synthetic MR studies (``--studies`` x 3 series x ``--slices``).
2. Reference: DCMTK ``storescu`` sends the folder to a fresh Orthanc (C-STORE on loopback, one
   association): the rate a PACS takes the same instances in.
3. DICOMweb: :func:`dedup.ingest.dicomweb.pull` from that Orthanc (with the Debian
   ``orthanc-dicomweb`` plugin) into an empty spool: QIDO-RS listing, one WADO-RS request per
   instance, written, fsynced and renamed, with the state saved as in a nightly.
4. For comparison, :func:`dedup.ingest.orthanc.pull` (Orthanc's REST ``/changes``) from the same
   server into another empty spool.

Orthanc's DICOM listener is DCMTK's, which leaves Nagle's algorithm on unless the environment
has ``TCP_NODELAY=1``: C-STORE then waits on delayed ACKs (about 17 instances/s on loopback
instead of about 130). The benchmark sets it for Orthanc and storescu, so the reference is what
a tuned PACS takes in; ``--keep-nagle`` measures the default.

Each is repeated ``--repeat`` times (fresh Orthanc / fresh spool) and the median is printed,
with the ratio of each pull to storescu. The machine is shared: compare figures of one run.

Usage: ``PYTHONPATH=. python benchmarks/pacs_pull.py [--studies 20] [--slices 10]
[--repeat 3] [--json out.json] [--keep-nagle]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dedup.config import DicomwebSource, OrthancSource  # noqa: E402
from dedup.ingest import dicomweb, orthanc  # noqa: E402
from dedup.ingest.spool import PullResult  # noqa: E402
from tests.pacs import PASSWORD, USER, OrthancServer, write_studies  # noqa: E402


def _storescu(folder: Path, work: Path) -> tuple[float, OrthancServer]:
    server = OrthancServer(work, dicomweb=True, dicom=True).start()
    started = time.perf_counter()
    subprocess.run(["storescu", "-aec", "ORTHANC", "+sd", "+r", "127.0.0.1",
                    str(server.dicom_port), str(folder)], check=True, capture_output=True)
    return time.perf_counter() - started, server


def _timed(pull: Callable[[], PullResult], expected: int) -> float:
    started = time.perf_counter()
    fetched = pull().fetched
    seconds = time.perf_counter() - started
    if fetched != expected:
        raise SystemExit(f"pulled {fetched} instances, expected {expected}")
    return seconds


def _round(folder: Path, work: Path, total: int) -> dict[str, float]:
    """One storescu send to a fresh Orthanc, then both pulls from it into empty spools."""
    seconds, server = _storescu(folder, work / "orthanc")
    try:
        if len(server.get("/instances")) != total:
            raise SystemExit("storescu did not store every instance")
        web = DicomwebSource(name="web", url=server.dicomweb_url, username=USER,
                             password_env="PW")
        rest = OrthancSource(name="rest", url=server.url, username=USER)
        return {"storescu": seconds,
                "dicomweb": _timed(partial(dicomweb.pull, web, work / "spool",
                                           environ={"PW": PASSWORD}), total),
                "orthanc": _timed(partial(orthanc.pull, rest, work / "spool",
                                          password=PASSWORD), total)}
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=20)
    parser.add_argument("--slices", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep-nagle", action="store_true",
                        help="do not set TCP_NODELAY=1 for DCMTK (Orthanc's listener, storescu)")
    args = parser.parse_args()
    if not args.keep_nagle:
        os.environ["TCP_NODELAY"] = "1"  # inherited by Orthanc and storescu
    with tempfile.TemporaryDirectory(prefix="dedup-pacs-pull-") as tmp:
        root = Path(tmp)
        write_studies(root / "folder", args.studies, seed=900, slices=args.slices)
        files = sorted((root / "folder").rglob("*.dcm"))
        total, size = len(files), sum(p.stat().st_size for p in files)
        rounds = [_round(root / "folder", root / f"round{n}", total) for n in range(args.repeat)]
    times = {name: [r[name] for r in rounds] for name in rounds[0]}
    rates = {name: total / statistics.median(t) for name, t in times.items()}
    print(f"{total} instances, {size / 1e6:.1f} MB, {args.studies} studies, median of "
          f"{args.repeat} ({os.cpu_count()} cores, shared), TCP_NODELAY="
          f"{os.environ.get('TCP_NODELAY', 'unset')}")
    print("| path | instances/s | MB/s | vs storescu |")
    print("| --- | --- | --- | --- |")
    for name, rate in rates.items():
        print(f"| {name} | {rate:.0f} | {rate * size / total / 1e6:.1f} | "
              f"{rate / rates['storescu']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"instances": total, "bytes": size, "times": times,
                                         "rates": rates}, indent=2))


if __name__ == "__main__":
    main()
