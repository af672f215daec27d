"""`dedup nightly` against a real Orthanc: incremental runs, faults, kill -9, disk full.

Every fault test ends by comparing the archive with one an undisturbed run built, so it
fails if anything is lost or duplicated. ``DEDUP_KILL_POINTS`` (default 5; ``make faults``
uses 20) and ``DEDUP_KILL_SEED`` control the kill test.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dedup.archive.db import batch_lock
from dedup.archive.publish import PublishedReader
from dedup.batch.nightly import nightly, spool_root
from dedup.config.file import load_config
from dedup.errors import ArchiveLocked
from tests.e2e.nightly_support import (
    ARCHIVE,
    archive_rows,
    cli_env,
    consistency_problems,
    content_rows,
    count,
    nightly_cli,
    write_config,
)
from tests.orphans import marked_env, survivors
from tests.pacs import PASSWORD, PASSWORD_ENV, FaultProxy, OrthancServer, write_studies


@dataclass
class Inputs:
    pacs_dir: Path  # uploaded to Orthanc
    incoming: Path  # a folder source: duplicates of every kind, negatives
    bad: Path  # a folder source of broken files


@dataclass
class Reference:
    rows: dict[str, list[tuple[Any, ...]]]
    content: dict[str, list[tuple[Any, ...]]]  # the rows minus arrival order
    exit_code: int
    work_seconds: float  # from the first log line to exit
    pull_seconds: float  # from the first log line to the end of the pull


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    from dedup.synth import make_corpus, write_bad_inputs

    root = tmp_path_factory.mktemp("inputs")
    corpus = make_corpus(root / "corpus", patients=1, seed=3, ct_slices=1)
    written = write_bad_inputs(root / "all-bad")
    (root / "bad").mkdir()
    for reason in ("not-dicom", "truncated", "corrupt", "missing-uid"):
        shutil.copy(written[reason], root / "bad")
    return Inputs(corpus.archive_dir, corpus.incoming_dir, root / "bad")


@pytest.fixture
def pacs(tmp_path: Path, inputs: Inputs) -> Iterator[OrthancServer]:
    server = OrthancServer(tmp_path / "orthanc").start()
    server.upload(inputs.pacs_dir)
    yield server
    server.stop(kill=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, inputs: Inputs) -> Iterator[Reference]:
    """The archive an undisturbed run builds (through the CLI, timed)."""
    root = tmp_path_factory.mktemp("reference")
    server = OrthancServer(root / "orthanc").start()
    server.upload(inputs.pacs_dir)
    config = write_config(root / "run", pacs_url=server.url, folders=(inputs.incoming, inputs.bad))
    proc = subprocess.Popen(_argv(config), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=cli_env(), text=True)
    assert proc.stderr is not None
    proc.stderr.readline()
    started = time.monotonic()
    while "indexing" not in proc.stderr.readline():
        pass
    pulled = time.monotonic() - started
    code = proc.wait(120)
    work = time.monotonic() - started
    yield Reference(archive_rows(root / "run"), content_rows(root / "run"), code, work, pulled)
    server.stop(kill=True)


def _argv(config: Path) -> list[str]:
    return [sys.executable, "-m", "dedup", "nightly", "--config", str(config)]


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def test_reference_run_indexed_everything(reference: Reference, inputs: Inputs) -> None:
    assert reference.exit_code == 0  # quarantined inputs do not fail the run by default
    names = {Path(r[0]).name for r in reference.rows["quarantine"]}
    assert names >= {f"{reason}.dcm" for reason in ("not-dicom", "truncated", "corrupt",
                                                   "missing-uid")}
    kinds = {r[2] for r in reference.rows.get("duplicates", [])}
    assert kinds >= {"exact", "same-content"}
    pacs_files = len(list(inputs.pacs_dir.rglob("*.dcm")))
    spooled = [r for r in reference.rows["files"] if r[0].startswith("<run>")]
    assert len(spooled) == pacs_files and {r[3] for r in spooled} == {"indexed"}


def test_nightly_is_incremental_and_readers_keep_answering(
        tmp_path: Path, pacs: OrthancServer, inputs: Inputs) -> None:
    config = write_config(tmp_path / "run", pacs_url=pacs.url, folders=(inputs.bad,))
    code, report, _ = nightly_cli(config, env=cli_env(DEDUP_FAIL_ON_QUARANTINE="1"))
    assert code == 1 and report and report["status"] == "partial"
    assert report["sources"][0]["pull"]["fetched"] == len(list(inputs.pacs_dir.rglob("*.dcm")))
    assert (tmp_path / "run" / "out" / "archive.nightly.json").is_file()
    code, report, _ = nightly_cli(config)
    assert code == 0 and report
    assert (report["sources"][0]["pull"]["fetched"], report["index"]["instances"]) == (0, 0)
    new = write_studies(tmp_path / "new", 1, seed=900)[0]
    pacs.upload(new)
    with _polling_reader(tmp_path / "run" / ARCHIVE) as latencies:
        code, report, stderr = nightly_cli(config)
    assert code == 0 and report, stderr
    assert (report["sources"][0]["pull"]["fetched"], report["index"]["instances"]) == (6, 6)
    assert latencies and max(latencies) < 1.0  # readers never waited on the batch


@contextmanager
def _polling_reader(archive: Path) -> Iterator[list[float]]:
    """Query the published snapshot every 20 ms in a thread, as the check service does."""
    latencies: list[float] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    reader = PublishedReader(archive)

    def poll() -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                reader.archive().scalar("SELECT count(*) FROM studies")
            except BaseException as exc:
                errors.append(exc)
            latencies.append(time.monotonic() - started)
            time.sleep(0.02)

    thread = threading.Thread(target=poll)
    thread.start()
    try:
        yield latencies
    finally:
        stop.set()
        thread.join()
        reader.close()
    assert not errors, errors[:3]


def test_second_run_while_one_holds_the_lock_changes_nothing(
        tmp_path: Path, pacs: OrthancServer, inputs: Inputs, password: None) -> None:
    config = load_config(write_config(tmp_path / "run", pacs_url=pacs.url))
    archive = config.settings.archive
    for held in (f"{archive}.nightly", archive):  # another nightly; a manual `dedup index`
        with batch_lock(held), pytest.raises(ArchiveLocked) as info:
            nightly(config)
        assert info.value.exit_code == 75
    assert not spool_root(archive).exists()


def test_nothing_could_be_done_exits_4(tmp_path: Path, inputs: Inputs) -> None:
    gone = load_config(write_config(tmp_path / "a", folders=(tmp_path / "not-mounted",)))
    report = nightly(gone)
    assert (report.exit_code, report.status) == (4, "nothing-done")
    assert report.sources[0].detail == "path does not exist (not mounted?)"
    only_bad = nightly(load_config(write_config(tmp_path / "b", folders=(inputs.bad,))))
    assert (only_bad.exit_code, only_bad.status) == (4, "nothing-done")
    assert "could be indexed" in only_bad.error
    assert (tmp_path / "b" / "out" / "archive.nightly.json").is_file()


def test_pacs_stopped_mid_run_then_next_run_completes(
        tmp_path: Path, pacs: OrthancServer, inputs: Inputs, reference: Reference,
        password: None) -> None:
    proxy = FaultProxy(pacs.port)
    downloads: list[str] = []

    def stop_pacs_at_sixth_download(path: str, n: int) -> None:
        if "/file" in path:
            downloads.append(path)
            if len(downloads) == 6:
                pacs.stop(kill=True)
                threading.Thread(target=proxy.close).start()

    proxy.on_request = stop_pacs_at_sixth_download
    proxy.rule = lambda path, n: "reset" if len(downloads) >= 6 else None
    config = load_config(write_config(tmp_path / "run", pacs_url=proxy.url,
                                      folders=(inputs.incoming, inputs.bad)))
    report = nightly(config)
    source = report.sources[0]
    assert (report.exit_code, report.status, source.status) == (1, "partial", "unreachable")
    assert source.pull and source.pull["fetched"] == 5 and source.pull["pending"] >= 1
    assert report.index and report.index["instances"] > 0  # the rest was indexed
    assert not consistency_problems(tmp_path / "run")
    pacs.start()
    healthy = FaultProxy(pacs.port, port=proxy.port)
    try:
        again = nightly(config)
    finally:
        healthy.close()
    assert (again.exit_code, again.status) == (0, "ok")
    assert content_rows(tmp_path / "run") == reference.content


def test_pacs_answering_500s_and_slowly(tmp_path: Path, pacs: OrthancServer, inputs: Inputs,
                                        reference: Reference, password: None,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    broken = pacs.upload(inputs.pacs_dir)[3]  # already stored: returns the ids again
    proxy = FaultProxy(pacs.port)
    slow_once: set[str] = set()

    def flaky(path: str, n: int) -> int | float | str | None:
        if broken in path:
            return 500  # this one never succeeds tonight
        if "/file" in path and path not in slow_once and len(slow_once) < 4:
            slow_once.add(path)
            return 0.6  # longer than the timeout: retried
        return 500 if n % 4 == 0 else "reset" if n % 7 == 0 else None

    proxy.rule = flaky
    monkeypatch.setenv("DEDUP_SOURCE_PACS_TIMEOUT", "0.3")
    monkeypatch.setenv("DEDUP_SOURCE_PACS_RETRIES", "5")
    config = load_config(write_config(tmp_path / "run", pacs_url=proxy.url,
                                      folders=(inputs.incoming, inputs.bad)))
    try:
        report = nightly(config)
        source = report.sources[0]
        assert (report.exit_code, source.status) == (1, "pending")
        assert source.pull and source.pull["pending"] == 1
        proxy.rule = lambda path, n: None
        again = nightly(config)
    finally:
        proxy.close()
    assert (again.exit_code, again.sources[0].pull["retried"]) == (0, 1)  # type: ignore[index]
    assert content_rows(tmp_path / "run") == reference.content


def test_kill_9_at_random_moments_loses_and_duplicates_nothing(
        tmp_path: Path, pacs: OrthancServer, inputs: Inputs, reference: Reference,
        password: None) -> None:
    points = int(os.environ.get("DEDUP_KILL_POINTS", "5"))
    rng = random.Random(int(os.environ.get("DEDUP_KILL_SEED", "6")))
    twice = os.environ.get("DEDUP_KILL_TWICE", "0") == "1"
    outcomes = []
    for i in range(points):
        run_dir = tmp_path / f"kill{i}"
        config = write_config(run_dir, pacs_url=pacs.url, folders=(inputs.incoming, inputs.bad))
        delay = _kill_delay(i, points, rng, reference)
        phase = _kill_after(config, delay)
        committed = count(run_dir, "instances")
        if twice and i % 2:  # kill the recovering run too
            phase += " + " + _kill_after(config, rng.random() * reference.work_seconds)
        report = nightly(load_config(config))  # the normal run, in-process to save start-up
        assert report.exit_code == reference.exit_code, report.error
        assert not consistency_problems(run_dir)
        assert archive_rows(run_dir) == reference.rows, f"kill point {i} ({phase})"
        outcomes.append(f"{delay:.2f}s {phase} ({committed} instances committed)")
    print(f"\n{points} kill points:\n  " + "\n  ".join(outcomes))


def _kill_delay(point: int, points: int, rng: random.Random, reference: Reference) -> float:
    """Every 5th point falls in the pull; the others are stratified over the whole run."""
    if point % 5 == 0:
        return rng.random() * reference.pull_seconds
    return 0.9 * reference.work_seconds * (point + rng.random()) / points


def _kill_after(config: Path, delay: float) -> str:
    """Start `dedup nightly`, SIGKILL it ``delay`` s after its first log line; name the phase."""
    env, mark = marked_env(cli_env())
    proc = subprocess.Popen(_argv(config), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env, text=True)
    assert proc.stderr is not None
    first = proc.stderr.readline()
    time.sleep(delay)
    finished = proc.poll() is not None
    proc.kill()
    proc.wait()
    alive = survivors(mark, end=True)  # workers, fork server, resource tracker: all gone
    assert not alive, f"processes of the killed run survived: {alive}"
    log = first + proc.stderr.read()  # (survivors would hold the pipe open: ended above)
    if finished:
        return "after the run ended"
    if "indexed:" in log:
        return "writing the report"
    if "indexing" in log:
        return "indexing/matching/publishing"
    return "pulling" if "pulling" in log else "starting"


@contextmanager
def _small_disk(path: Path, size_mb: int) -> Iterator[str]:
    """A tmpfs at ``path`` when this user may mount one (root), else nothing ('rlimit')."""
    path.mkdir(parents=True)
    wanted = os.environ.get("DEDUP_TEST_DISK_FULL", "tmpfs")  # "rlimit" forces the fallback
    mounted = wanted == "tmpfs" and os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
        capture_output=True).returncode == 0
    try:
        yield "tmpfs" if mounted else "rlimit"
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.mark.parametrize("free_kb", [32, 1024], ids=["in-a-batch", "at-checkpoint"])
def test_disk_full_while_writing_the_archive(tmp_path: Path, free_kb: int,
                                             password: None) -> None:
    first = write_studies(tmp_path / "first", 2, seed=700)
    later = write_studies(tmp_path / "later", 4, seed=800)
    ref_dir = tmp_path / "reference"
    for folders in ((tmp_path / "first",), (tmp_path / "first", tmp_path / "later")):
        nightly(load_config(write_config(ref_dir, folders=folders, batch_files=4)))
    disk = tmp_path / "disk"
    with _small_disk(disk, 96) as mode:
        run_dir = disk / "run"
        assert nightly(load_config(write_config(run_dir, folders=(first[0].parent,),
                                                batch_files=4))).exit_code == 0
        before = count(run_dir, "instances")
        config = write_config(run_dir, folders=(first[0].parent, later[0].parent), batch_files=4)
        code, report, stderr = nightly_cli(config, preexec=_fill(disk, mode, free_kb))
        (disk / "filler").unlink(missing_ok=True)
        assert code == 74 and report and report["status"] == "failed", stderr
        assert "disk full while writing the archive" in stderr and "Traceback" not in stderr
        assert not consistency_problems(run_dir)  # intact: it opens, counts agree
        at_failure = count(run_dir, "instances")
        assert at_failure >= before
        again = nightly(load_config(config))
        assert again.exit_code == 0, again.error
        assert archive_rows(run_dir) == archive_rows(ref_dir)
    print(f"\ndisk full injected with {mode}: {at_failure - before} of 24 new instances were "
          "committed before it, the next run added the rest")


def _fill(disk: Path, mode: str, free_kb: int) -> Any:
    """Leave ``free_kb`` free on the tmpfs; in rlimit mode limit the child's file sizes."""
    if mode == "tmpfs":
        free = os.statvfs(disk)
        with open(disk / "filler", "wb") as fh:
            fh.truncate(0)
            remaining = free.f_bavail * free.f_frsize - free_kb * 1024
            block = b"\0" * (1 << 20)
            while remaining > 0:
                remaining -= fh.write(block[:min(len(block), remaining)])
        return None
    limit = free_kb * 1024  # per file: the write-ahead log fills, or the checkpoint fails

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return limit_file_size

