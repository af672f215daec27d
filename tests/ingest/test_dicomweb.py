"""Pulling over DICOMweb from a real Orthanc (with the orthanc-dicomweb plugin) on loopback."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pydicom
import pytest

from dedup.config.dicomweb import DicomwebSource
from dedup.ingest import spool
from dedup.ingest.dicomweb import pull, spool_dir
from tests.conftest import REPO
from tests.pacs import PASSWORD, USER, FaultProxy, OrthancServer, write_studies

ENV = {"PW": PASSWORD, "TOKEN": "a-bearer-token-for-tests"}


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_studies(tmp_path_factory.mktemp("studies"), 3, seed=500)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[OrthancServer]:
    pacs = OrthancServer(tmp_path / "orthanc", dicomweb=True).start()
    yield pacs
    pacs.stop(kill=True)


def source(url: str, **overrides: object) -> DicomwebSource:
    values: dict[str, object] = dict(name="pacs", url=url, username=USER, password_env="PW",
                                     timeout=2.0, retries=3, backoff=0.01, backoff_max=0.05,
                                     page_size=4, max_failures=3)
    return DicomwebSource(**(values | overrides))  # type: ignore[arg-type]


def dicomweb(server: OrthancServer | FaultProxy) -> str:
    return f"{server.url}/dicom-web"


def digests(*folders: Path) -> set[str]:
    return {hashlib.sha256(p.read_bytes()).hexdigest() for f in folders for p in f.rglob("*.dcm")}


def spooled(root: Path) -> set[str]:
    return digests(root / "pacs")


def sop_uids(folder: Path) -> list[str]:
    return [str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID)
            for p in sorted(folder.rglob("*.dcm"))]


def new_instance_in(study: Path, out: Path) -> Path:
    """A copy of one of ``study``'s files with a new SOP Instance UID, made by DCMTK."""
    out.mkdir(parents=True)
    copy = out / "extra.dcm"
    shutil.copy(next(iter(sorted(study.rglob("*.dcm")))), copy)
    subprocess.run(["dcmodify", "-nb", "-gin", str(copy)], check=True, capture_output=True)
    return out


def test_pull_is_incremental(server: OrthancServer, studies: list[Path], tmp_path: Path) -> None:
    root = tmp_path / "spool"
    server.upload(studies[0])
    first = pull(source(dicomweb(server)), root, environ=ENV)
    assert (first.fetched, first.pending, first.unreachable, first.cursor) == (6, 0, "", "20240101")
    assert spooled(root) == digests(studies[0])  # byte-identical copies
    again = pull(source(dicomweb(server)), root, environ=ENV)
    assert (again.fetched, again.already, again.cursor) == (0, 0, "20240101")  # not even listed
    server.upload(studies[1])
    server.upload(new_instance_in(studies[0], tmp_path / "extra"))  # study 0 grows
    third = pull(source(dicomweb(server)), root, environ=ENV)
    assert (third.fetched, third.already) == (7, 6)  # nothing fetched twice
    assert spooled(root) == digests(studies[0], studies[1], tmp_path / "extra")
    assert not list((root / ".partial").iterdir())


def test_a_bearer_token_goes_through_a_gateway(server: OrthancServer, studies: list[Path],
                                               tmp_path: Path) -> None:
    server.upload(studies[0])
    gateway = FaultProxy(server.port)
    gateway.bearer = ENV["TOKEN"]
    try:
        wrong = pull(source(dicomweb(gateway), username="", token_env="PW"), tmp_path / "a",
                     environ=ENV)
        (tmp_path / "token").write_text(ENV["TOKEN"] + "\n")
        right = pull(source(dicomweb(gateway), username="", token_file=str(tmp_path / "token")),
                     tmp_path / "b", environ={})
    finally:
        gateway.close()
    assert wrong.unreachable.startswith("HTTP 401: check username")
    assert (right.fetched, right.unreachable) == (6, "")


def test_server_stopped_mid_pull_resumes_next_run(server: OrthancServer, studies: list[Path],
                                                  tmp_path: Path) -> None:
    root = tmp_path / "spool"
    for study in studies[:2]:
        server.upload(study)

    def stop_after_four(done: int) -> None:
        if done == 4:
            server.stop(kill=True)

    cut = pull(source(dicomweb(server), max_failures=2), root, progress=stop_after_four,
               environ=ENV)
    assert cut.fetched == 4 and cut.pending == 2
    assert "2 downloads failed in a row" in cut.unreachable
    assert "connection refused" in cut.unreachable
    state = json.loads((root / "pacs.state.json").read_text())
    assert len(state["failed"]) == 2 and state["marks"] == {}  # the study is not done
    server.start()
    resumed = pull(source(dicomweb(server)), root, environ=ENV)
    assert (resumed.pending, resumed.unreachable, resumed.retried) == (0, "", 2)
    assert resumed.fetched == 8  # the 2 retried, the 6 of the other study; none twice
    assert spooled(root) == digests(studies[0], studies[1])


def test_qido_down_is_unreachable(tmp_path: Path) -> None:
    result = pull(source("http://127.0.0.1:9/dicom-web", retries=2), tmp_path / "spool",
                  environ=ENV)
    assert result.unreachable == ("QIDO-RS search for studies failed: connection refused "
                                  "after 2 attempts")
    assert result.fetched == 0 and result.cursor == 0


def test_500s_and_dropped_connections_are_retried(server: OrthancServer, studies: list[Path],
                                                  tmp_path: Path) -> None:
    server.upload(studies[0])
    proxy = FaultProxy(server.port)
    proxy.rule = lambda path, n: 500 if n % 3 == 1 else "reset" if n % 5 == 0 else None
    try:
        result = pull(source(dicomweb(proxy), retries=4), tmp_path / "spool", environ=ENV)
    finally:
        proxy.close()
    assert (result.fetched, result.pending, result.unreachable) == (6, 0, "")
    assert spooled(tmp_path / "spool") == digests(studies[0])


def test_poison_instance_waits_on_the_retry_list(server: OrthancServer, studies: list[Path],
                                                 tmp_path: Path) -> None:
    server.upload(studies[0])
    poison = sop_uids(studies[0])[2]
    proxy = FaultProxy(server.port)
    proxy.rule = lambda path, n: 500 if path.endswith(f"/instances/{poison}") else None
    root = tmp_path / "spool"
    try:
        first = pull(source(dicomweb(proxy)), root, environ=ENV)
        assert (first.fetched, first.pending, first.unreachable) == (5, 1, "")
        state = json.loads((root / "pacs.state.json").read_text())
        [(key, entry)] = state["failed"].items()
        assert key.endswith(f"/{poison}") and entry["error"] == "HTTP 500 after 3 attempts"
        assert state["cursor"] == "20240101"  # moved on: the failure is on the list
        proxy.rule = lambda path, n: None
        second = pull(source(dicomweb(proxy)), root, environ=ENV)
    finally:
        proxy.close()
    assert (second.retried, second.pending, second.fetched) == (1, 0, 1)
    assert spooled(root) == digests(studies[0])


def test_slow_answers_time_out_and_are_retried(server: OrthancServer, studies: list[Path],
                                               tmp_path: Path) -> None:
    server.upload(studies[0])
    proxy = FaultProxy(server.port)
    seen: set[str] = set()

    def first_try_slow(path: str, n: int) -> float | None:
        if path not in seen:  # every QIDO page and every WADO download once
            seen.add(path)
            return 1.0
        return 0.02

    proxy.rule = first_try_slow
    try:
        result = pull(source(dicomweb(proxy), timeout=0.25), tmp_path / "spool", environ=ENV)
    finally:
        proxy.close()
    assert (result.fetched, result.pending, result.unreachable) == (6, 0, "")
    assert len(seen) >= 6


def test_the_spool_limit_stops_the_pull_and_the_next_run_goes_on(
        server: OrthancServer, studies: list[Path], tmp_path: Path) -> None:
    server.upload(studies[0])
    root = tmp_path / "spool"
    size = min(p.stat().st_size for p in studies[0].rglob("*.dcm"))
    cut = pull(source(dicomweb(server), spool_limit_mb=2.5 * size / 1e6), root, environ=ENV)
    assert (cut.fetched, cut.spool_full, cut.unreachable, cut.cursor) == (3, True, "", 0)
    rest = pull(source(dicomweb(server)), root, environ=ENV)
    assert (rest.fetched, rest.already, rest.spool_full) == (3, 3, False)
    assert spooled(root) == digests(studies[0])


def test_every_saved_state_covers_only_spooled_or_listed_instances(
        server: OrthancServer, studies: list[Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What a kill -9 finds on disk at any moment: the state is never ahead of the spool."""
    for study in studies:
        server.upload(study)
    by_study = {str(pydicom.dcmread(next(iter(s.rglob("*.dcm")))).StudyInstanceUID):
                set(sop_uids(s)) for s in studies}
    root = tmp_path / "spool"
    real_save = spool.save_state
    checked = []

    def checking_save(path: Path, state: spool.State) -> None:
        on_disk = {p.stem for p in (root / "pacs").rglob("*.dcm")}
        listed = {key.rsplit("/", 1)[-1] for key in state.failed}
        for study in state.marks:
            assert by_study[study] <= on_disk | listed, "state marks an unfetched study"
        checked.append(len(state.marks))
        real_save(path, state)

    monkeypatch.setattr(spool, "save_state", checking_save)

    def stop_after_seven(done: int) -> None:
        if done == 7:
            server.stop(kill=True)

    pull(source(dicomweb(server), page_size=1, max_failures=2), root, progress=stop_after_seven,
         environ=ENV)
    server.start()
    pull(source(dicomweb(server), page_size=1), root, environ=ENV)
    assert len(checked) > 4 and checked[-1] == 3
    assert spooled(root) == digests(*studies)


_PULL_SLOWLY = """
import sys, time
from dedup.config.dicomweb import DicomwebSource
from dedup.ingest.dicomweb import pull
source = DicomwebSource(name="pacs", url=sys.argv[1], username=sys.argv[2], password_env="PW",
                        page_size=1)
pull(source, sys.argv[3], progress=lambda n: time.sleep(0.2))
"""


def test_a_pull_killed_at_any_moment_resumes_without_fetching_twice(
        server: OrthancServer, studies: list[Path], tmp_path: Path) -> None:
    for study in studies:
        server.upload(study)
    root = tmp_path / "spool"
    child = subprocess.Popen([sys.executable, "-c", _PULL_SLOWLY, dicomweb(server), USER,
                              str(root)], env={**os.environ, "PW": PASSWORD,
                                               "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 60
    while len(list(root.glob("pacs/**/*.dcm"))) < 8 and time.monotonic() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    before = len(list(root.glob("pacs/**/*.dcm")))
    assert 8 <= before < 18, "the kill came too late to test anything"
    resumed = pull(source(dicomweb(server)), root, environ=ENV)
    assert (resumed.fetched, resumed.pending, resumed.unreachable) == (18 - before, 0, "")
    assert spooled(root) == digests(*studies)
    assert spool_dir(root, source("x")) == root / "pacs"


def restudied(study: Path, out: Path, study_date: str) -> Path:
    """``study`` as another study (new UIDs by DCMTK) acquired on ``study_date``."""
    shutil.copytree(study, out)
    uid = f"1.2.826.0.1.3680043.8.498.77{study_date}"
    for n, series in enumerate(sorted({p.parent for p in out.rglob("*.dcm")}), 1):
        subprocess.run(["dcmodify", "-nb", "-gin", "-m", f"StudyInstanceUID={uid}",
                        "-m", f"SeriesInstanceUID={uid}.{n}", "-m", f"StudyDate={study_date}",
                        *map(str, sorted(series.glob("*.dcm")))], check=True,
                       capture_output=True)
    return out


def test_the_window_starts_overlap_days_before_the_mark_which_never_passes_today(
        server: OrthancServer, studies: list[Path], tmp_path: Path) -> None:
    root = tmp_path / "spool"
    server.upload(studies[0])  # StudyDate 20240101
    assert pull(source(dicomweb(server)), root, environ=ENV).cursor == "20240101"
    server.upload(restudied(studies[1], tmp_path / "late", "20231215"))  # 17 days before
    server.upload(restudied(studies[2], tmp_path / "future", "20990101"))
    seven = pull(source(dicomweb(server)), root, environ=ENV, today=date(2024, 6, 1))
    assert (seven.fetched, seven.cursor) == (6, "20240601")  # the future study, not the late
    month = pull(source(dicomweb(server), overlap_days=160), root, environ=ENV,
                 today=date(2024, 6, 1))
    assert (month.fetched, month.already) == (0, 0)  # from 20231224: the late one is out of reach
    wide = pull(source(dicomweb(server), overlap_days=200), root, environ=ENV,
                today=date(2024, 6, 1))
    assert wide.fetched == 6
    assert spooled(root) == digests(studies[0], tmp_path / "late", tmp_path / "future")
