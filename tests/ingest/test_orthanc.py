"""Pulling from a real Orthanc on loopback: incremental, resumable, fault tolerant."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dedup.config.file import OrthancSource
from dedup.errors import StorageError
from dedup.ingest import spool
from dedup.ingest.orthanc import pull, spool_dir
from tests.pacs import PASSWORD, USER, FaultProxy, OrthancServer, write_studies


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_studies(tmp_path_factory.mktemp("studies"), 3, seed=300)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[OrthancServer]:
    pacs = OrthancServer(tmp_path / "orthanc").start()
    yield pacs
    pacs.stop(kill=True)


def source(url: str, **overrides: object) -> OrthancSource:
    values: dict[str, object] = dict(name="pacs", url=url, username=USER, password_env="X",
                                     timeout=2.0, retries=3, backoff=0.01, backoff_max=0.05,
                                     page_size=4, max_failures=3)
    return OrthancSource(**(values | overrides))  # type: ignore[arg-type]


def digests(folder: Path) -> set[str]:
    return {hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*.dcm")}


def spooled(root: Path) -> set[str]:
    return digests(root / "pacs")


def test_pull_is_incremental(server: OrthancServer, studies: list[Path], tmp_path: Path) -> None:
    root = tmp_path / "spool"
    server.upload(studies[0])
    first = pull(source(server.url), root, password=PASSWORD)
    assert (first.fetched, first.pending, first.unreachable) == (6, 0, "")
    assert spooled(root) == digests(studies[0])  # byte-identical copies
    again = pull(source(server.url), root, password=PASSWORD)
    assert (again.fetched, again.already, again.cursor) == (0, 0, first.cursor)
    server.upload(studies[1])
    third = pull(source(server.url), root, password=PASSWORD)
    assert third.fetched == 6
    assert spooled(root) == digests(studies[0]) | digests(studies[1])
    assert not list((root / ".partial").iterdir())


def test_server_stopped_mid_pull_resumes_next_run(server: OrthancServer, studies: list[Path],
                                                  tmp_path: Path) -> None:
    root = tmp_path / "spool"
    for study in studies[:2]:
        server.upload(study)

    def stop_after_four(done: int) -> None:
        if done == 4:
            server.stop(kill=True)

    cut = pull(source(server.url, max_failures=2, page_size=100), root, progress=stop_after_four,
               password=PASSWORD)
    assert cut.fetched == 4 and cut.pending == 2
    assert "2 downloads failed in a row" in cut.unreachable
    assert "connection refused" in cut.unreachable
    state = json.loads((root / "pacs.state.json").read_text())
    assert len(state["failed"]) == 2
    server.start()
    resumed = pull(source(server.url), root, password=PASSWORD)
    assert (resumed.pending, resumed.unreachable, resumed.retried) == (0, "", 2)
    assert spooled(root) == digests(studies[0]) | digests(studies[1])


def test_changes_feed_down_is_unreachable(tmp_path: Path) -> None:
    result = pull(source("http://127.0.0.1:9", retries=2), tmp_path / "spool", password="")
    assert result.unreachable.startswith("GET /changes failed")
    assert result.fetched == 0 and result.cursor == 0


def test_500s_and_dropped_connections_are_retried(server: OrthancServer, studies: list[Path],
                                                  tmp_path: Path) -> None:
    server.upload(studies[0])
    proxy = FaultProxy(server.port)
    proxy.rule = lambda path, n: 500 if n % 3 == 1 else "reset" if n % 5 == 0 else None
    try:
        result = pull(source(proxy.url, retries=4), tmp_path / "spool", password=PASSWORD)
    finally:
        proxy.close()
    assert (result.fetched, result.pending, result.unreachable) == (6, 0, "")
    assert spooled(tmp_path / "spool") == digests(studies[0])


def test_instance_failing_for_good_waits_on_the_retry_list(
        server: OrthancServer, studies: list[Path], tmp_path: Path) -> None:
    ids = server.upload(studies[0])
    proxy = FaultProxy(server.port)
    proxy.rule = lambda path, n: 500 if ids[2] in path else None
    root = tmp_path / "spool"
    try:
        first = pull(source(proxy.url), root, password=PASSWORD)
        assert (first.fetched, first.pending, first.unreachable) == (5, 1, "")
        state = json.loads((root / "pacs.state.json").read_text())
        assert state["failed"][ids[2]]["error"] == "HTTP 500 after 3 attempts"
        assert state["cursor"] == first.cursor > 0  # advanced: the failure is recorded
        proxy.rule = lambda path, n: None
        second = pull(source(proxy.url), root, password=PASSWORD)
    finally:
        proxy.close()
    assert (second.retried, second.pending) == (1, 0)
    assert spooled(root) == digests(studies[0])


def test_slow_answers_time_out_and_are_retried(server: OrthancServer, studies: list[Path],
                                               tmp_path: Path) -> None:
    server.upload(studies[0])
    proxy = FaultProxy(server.port)
    seen: set[str] = set()

    def first_try_slow(path: str, n: int) -> float | None:
        if "/file" in path and path not in seen:
            seen.add(path)
            return 1.0
        return 0.02

    proxy.rule = first_try_slow
    started = time.monotonic()
    try:
        result = pull(source(proxy.url, timeout=0.25), tmp_path / "spool", password=PASSWORD)
    finally:
        proxy.close()
    assert (result.fetched, result.pending) == (6, 0)
    assert time.monotonic() - started < 10


def test_wrong_password_stops_at_once(server: OrthancServer, tmp_path: Path) -> None:
    result = pull(source(server.url, retries=5, backoff=5.0), tmp_path / "spool", password="no")
    assert result.unreachable == "HTTP 401: check username and password_env"


def test_instances_deleted_meanwhile_are_gone_not_failed(
        server: OrthancServer, studies: list[Path], tmp_path: Path) -> None:
    ids = server.upload(studies[0])
    proxy = FaultProxy(server.port)
    proxy.on_request = lambda path, n: server.delete(ids[0]) if path.startswith(
        f"/instances/{ids[0]}") else None
    try:
        result = pull(source(proxy.url), tmp_path / "spool", password=PASSWORD)
    finally:
        proxy.close()
    assert (result.fetched, result.gone, result.pending) == (5, 1, 0)


def test_restarted_change_log_is_read_again(server: OrthancServer, studies: list[Path],
                                            tmp_path: Path) -> None:
    root = tmp_path / "spool"
    root.mkdir()
    (root / "pacs.state.json").write_text(json.dumps(
        {"url": server.url, "cursor": 10**6, "failed": {}}))
    (root / ".partial").mkdir()
    (root / ".partial" / "left-by-a-crash.part").write_bytes(b"half a file")
    server.upload(studies[0])
    result = pull(source(server.url), root, password=PASSWORD)
    assert result.fetched == 6
    assert not list((root / ".partial").iterdir())


def test_disk_full_while_spooling_is_a_storage_error(
        server: OrthancServer, studies: list[Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server.upload(studies[0])
    root = tmp_path / "spool"
    real_local = spool.local
    writes = {"n": 0}

    def full_after_three_files(function, *args):  # type: ignore[no-untyped-def]
        if getattr(function, "__name__", "") == "write":
            writes["n"] += 1
            if writes["n"] > 3:
                raise spool.LocalError(OSError(errno.ENOSPC, "No space left on device"))
        return real_local(function, *args)

    monkeypatch.setattr(spool, "local", full_after_three_files)
    with pytest.raises(StorageError, match="No space left on device"):
        pull(source(server.url), root, password=PASSWORD)
    state = json.loads((root / "pacs.state.json").read_text())
    files = list(spool_dir(root, source(server.url)).rglob("*.dcm"))
    assert len(files) == 3 and not state["failed"]  # the failed write was not recorded
    monkeypatch.setattr(spool, "local", real_local)
    resumed = pull(source(server.url), root, password=PASSWORD)
    assert (resumed.fetched, resumed.pending) == (3, 0)
    assert spooled(root) == digests(studies[0])


def test_every_saved_cursor_covers_only_spooled_or_listed_instances(
        server: OrthancServer, studies: list[Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What a kill -9 finds on disk at any moment: the cursor never passes a lost instance."""
    for study in studies:
        server.upload(study)
    changes = server.get("/changes?since=0&limit=100")["Changes"]
    instance_seqs = {c["ID"]: c["Seq"] for c in changes if c["ChangeType"] == "NewInstance"}
    root = tmp_path / "spool"
    real_save = spool.save_state
    checked = []

    def checking_save(path: Path, state: spool.State) -> None:
        spooled = {p.stem for p in (root / "pacs").rglob("*.dcm")}
        covered = {i for i, seq in instance_seqs.items() if seq <= state.cursor}
        assert covered <= spooled | set(state.failed), "cursor passed an unfetched instance"
        checked.append(state.cursor)
        real_save(path, state)

    monkeypatch.setattr(spool, "save_state", checking_save)

    def stop_after_seven(done: int) -> None:
        if done == 7:
            server.stop(kill=True)

    pull(source(server.url, page_size=5, max_failures=2), root, progress=stop_after_seven,
         password=PASSWORD)
    server.start()
    pull(source(server.url, page_size=5), root, password=PASSWORD)
    assert len(checked) > 4 and spooled(root) == set().union(*(digests(s) for s in studies))


def test_the_spool_is_owner_only_whatever_the_umask(server: OrthancServer, studies: list[Path],
                                                    tmp_path: Path) -> None:
    server.upload(studies[0])
    before = os.umask(0o022)
    try:
        assert pull(source(server.url), tmp_path / "spool", password=PASSWORD).fetched == 6
    finally:
        os.umask(before)
    made = [tmp_path / "spool", *(tmp_path / "spool").rglob("*")]
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in made if p.is_dir()} == {"0o700"}
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in made if p.is_file()} == {"0o600"}
    assert len([p for p in made if p.suffix == ".dcm"]) == 6
