"""``dedup listen`` throughput and the delay from a study's last instance to its duplicate row.

1. Writes ``--studies`` generated MR studies (3 series x ``--slices`` images each) and, for
   ``--copies`` of them, a re-identified copy (dicognito: new UIDs and names, same pixels).
2. Reference: DCMTK ``storescu`` sends the folder, in one association, to a real Orthanc on
   loopback (its DICOM port; started as the tests start it). Instances per second. Then the
   DIMSE source pulls them back (C-FIND, then one C-GET per study): instances per second.
3. The same folder through ``dedup listen`` (a subprocess, as in production): instances per
   second acknowledged. Each acknowledgement waits for the instance to be fsynced in the
   spool. Twice: receiving only (an idle time longer than the send), then with the studies
   that went quiet indexed meanwhile, in the same process and on the same cores.
4. Each copy is sent on its own once the archive holds the originals; the delay runs from
   storescu's return (the last instance acknowledged) to the log line naming the
   ``same-content`` row (logged once the row is committed). It is ``idle_seconds`` (the
   listener waits for the study to go quiet) plus one index-and-match run; both are given.

Timings are noisy on a shared machine: the reference is measured in the same run. DCMTK
(storescu, and Orthanc's DICOM server) leaves Nagle's algorithm on unless ``TCP_NODELAY=1`` is
in the environment; one instance then costs a delayed-ACK wait (about 15 instances/s to
Orthanc). The benchmark sets ``TCP_NODELAY=1`` (``--nagle`` keeps DCMTK's default).

Usage: ``PYTHONPATH=. python benchmarks/listen_latency.py [--dir /tmp/dedup-listen-bench]
[--studies 20] [--slices 10] [--copies 5] [--idle 2] [--json results.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from dedup.config.dimse import DimseSource
from dedup.ingest.dimse import pull_dimse
from dedup.synth.tools import anonymise
from tests.listener import Listener, acknowledged, storescu
from tests.pacs import OrthancServer, free_port, write_studies


def main() -> None:
    """Run the benchmark and print (and optionally save) its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/dedup-listen-bench"))
    parser.add_argument("--studies", type=int, default=20)
    parser.add_argument("--slices", type=int, default=10)
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--idle", type=float, default=2.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--nagle", action="store_true", help="keep DCMTK's default (Nagle on)")
    args = parser.parse_args()
    if not args.nagle:
        os.environ["TCP_NODELAY"] = "1"  # read by storescu and by Orthanc's DICOM server
    shutil.rmtree(args.dir, ignore_errors=True)
    folders = write_studies(args.dir / "studies", args.studies, seed=1000, slices=args.slices)
    copies = [args.dir / "copies" / f"copy{n}" for n in range(args.copies)]
    for n, copy in enumerate(copies):
        anonymise(folders[n], copy, f"bench{n}")
    instances = sum(1 for _ in (args.dir / "studies").rglob("*.dcm"))
    results: dict[str, Any] = {"studies": args.studies, "instances": instances,
                               "megabytes": round(_size(args.dir / "studies") / 1e6, 1),
                               "idle_seconds": args.idle,
                               "tcp_nodelay": os.environ.get("TCP_NODELAY", "")}
    results["orthanc_instances_per_s"], results["c_get_from_orthanc_instances_per_s"] = (
        _to_orthanc(args.dir / "orthanc", args.dir / "studies", instances))
    receiver = Listener(args.dir / "receive-only", idle=3600, workers=2).start()
    try:
        results["listen_receive_only_instances_per_s"] = _send(args.dir / "studies",
                                                               receiver.port, instances)
    finally:
        receiver.stop()
    server = Listener(args.dir / "listen", idle=args.idle, workers=2).start()
    try:
        results["listen_while_indexing_instances_per_s"] = _send(args.dir / "studies",
                                                                 server.port, instances)
        server.wait_for(r"indexed \d+ studies", timeout=600)
        _wait_until_indexed(server, instances)
        delays = [_duplicate_delay(server, copy, n + 1) for n, copy in enumerate(copies)]
        runs = [float(m) for m in re.findall(r"quarantined in ([\d.]+) s", server.text())[-3:]]
    finally:
        server.stop()
    results["duplicate_delay_s"] = {"median": round(statistics.median(delays), 2),
                                    "max": round(max(delays), 2),
                                    "each": [round(d, 2) for d in delays]}
    results["index_run_s_last"] = runs
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


def _to_orthanc(root: Path, folder: Path, instances: int) -> tuple[float, float]:
    """Instances/s sent to Orthanc with storescu, then pulled back with the DIMSE source."""
    orthanc = OrthancServer(root, dicom=True, modalities={"DEDUP": free_port()}).start()
    try:
        sent = _send(folder, orthanc.dicom_port, instances, aec="ORTHANC")
        source = DimseSource(name="bench", host="127.0.0.1", port=orthanc.dicom_port,
                             called_ae="ORTHANC", start_date="19000101")
        pulled = pull_dimse(source, root / "spool")
        if pulled.fetched != instances or pulled.unreachable:
            raise RuntimeError(f"C-GET pulled {pulled.fetched}/{instances}: {pulled.unreachable}")
        return sent, round(instances / pulled.seconds, 1)
    finally:
        orthanc.stop()


def _send(folder: Path, port: int, instances: int, aec: str = "DEDUP") -> float:
    started = time.monotonic()
    sent = storescu(folder, port, aec=aec)
    seconds = time.monotonic() - started
    done = len(acknowledged(sent.stdout + sent.stderr))
    if sent.returncode != 0 or done != instances:
        raise RuntimeError(f"storescu sent {done}/{instances}: {sent.stderr[-2000:]}")
    return round(instances / seconds, 1)


def _wait_until_indexed(server: Listener, instances: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = sum(int(n) for n in re.findall(r"(\d+) new instances", server.text()))
        if new >= instances:
            return
        time.sleep(0.2)
    raise RuntimeError("the listener did not index every instance in time")


def _duplicate_delay(server: Listener, copy: Path, count: int) -> float:
    sent = storescu(copy, server.port)
    if sent.returncode != 0:
        raise RuntimeError(f"storescu failed: {sent.stderr[-2000:]}")
    last_acknowledged = time.monotonic()
    server.wait_for(r"duplicate: study \d+ is same-content", count=count, timeout=300)
    return time.monotonic() - last_acknowledged


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*.dcm"))


if __name__ == "__main__":
    main()
