"""The DIMSE source against a real Orthanc's DICOM port on loopback (C-FIND, C-GET)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from dedup.batch.pipeline import index
from dedup.config import Settings
from dedup.config.dimse import DimseSource
from dedup.ingest.dimse import pull_dimse
from dedup.ingest.orthanc import PullResult
from tests.conftest import dedup_cli
from tests.pacs import OrthancServer, free_port, write_studies

TODAY = date(2024, 1, 2)  # the studies are dated 2024-01-01: inside the overlap


@pytest.fixture
def pacs(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = OrthancServer(tmp_path / "orthanc", dicom=True, modalities={"DEDUP": free_port()})
    yield server.start()
    server.stop()


def _source(server: OrthancServer, **kwargs: object) -> DimseSource:
    return DimseSource(name="pacs", host="127.0.0.1", port=server.dicom_port,
                       called_ae="ORTHANC", timeout=10, **kwargs)  # type: ignore[arg-type]


def test_new_studies_are_retrieved_once_and_indexed(pacs: OrthancServer, tmp_path: Path) -> None:
    studies = write_studies(tmp_path / "studies", 3, seed=700)
    for folder in studies[:2]:
        pacs.upload(folder)
    spool = tmp_path / "spool"
    first = pull_dimse(_source(pacs, start_date="20231201"), spool, today=TODAY)
    assert (first.fetched, first.pending, first.unreachable) == (12, 0, "")
    assert first.cursor == 20240102
    again = pull_dimse(_source(pacs), spool, today=TODAY)
    assert (again.fetched, again.already) == (0, 12)
    pacs.upload(studies[2])
    third = pull_dimse(_source(pacs), spool, today=TODAY)
    assert (third.fetched, third.already) == (6, 12)
    settings = Settings(archive=str(tmp_path / "archive.duckdb"), workers=1, publish=False)
    summary = index([spool / "pacs"], settings)
    assert (summary.studies, summary.instances, summary.quarantined) == (3, 18, 0)
    assert not any((spool / ".partial").iterdir())


def test_studies_before_the_start_date_are_not_asked_for(pacs: OrthancServer,
                                                         tmp_path: Path) -> None:
    pacs.upload(write_studies(tmp_path / "studies", 1, seed=720)[0])  # dated 2024-01-01
    result = pull_dimse(_source(pacs, start_date="20240102"), tmp_path / "spool", today=TODAY)
    assert (result.fetched, result.already, result.pending) == (0, 0, 0)


def test_a_stopped_pacs_is_unreachable_and_the_mark_stays(pacs: OrthancServer,
                                                         tmp_path: Path) -> None:
    pacs.upload(write_studies(tmp_path / "studies", 1, seed=740)[0])
    spool = tmp_path / "spool"
    pacs.stop()
    down = pull_dimse(_source(pacs, start_date="20231201"), spool, today=TODAY)
    assert "no association" in down.unreachable and down.fetched == 0
    pacs.start()
    up = pull_dimse(_source(pacs, start_date="20231201"), spool, today=TODAY)
    assert (up.fetched, up.unreachable) == (6, "")


def test_an_unknown_calling_ae_title_is_refused_by_the_pacs(pacs: OrthancServer,
                                                            tmp_path: Path) -> None:
    pacs.upload(write_studies(tmp_path / "studies", 1, seed=760)[0])
    result = pull_dimse(_source(pacs, calling_ae="STRANGER", start_date="20231201"),
                        tmp_path / "spool", today=TODAY)
    assert result.fetched == 0 and (result.unreachable or result.pending)


def test_pacs_stopped_mid_retrieval_then_the_next_pull_gets_the_rest(
        pacs: OrthancServer, tmp_path: Path) -> None:
    for folder in write_studies(tmp_path / "studies", 3, seed=780, slices=10):  # 90 instances
        pacs.upload(folder)
    spool = tmp_path / "spool"
    source = _source(pacs, start_date="20231201", max_failures=1)
    pulling = threading.Thread(target=lambda: results.append(
        pull_dimse(source, spool, today=TODAY)))
    results: list[PullResult] = []
    pulling.start()
    while len(list(spool.rglob("*.dcm"))) < 20 and pulling.is_alive():
        time.sleep(0.005)
    pacs.stop(kill=True)
    pulling.join(60)
    assert results[0].unreachable and results[0].fetched < 90
    pacs.start()
    rest = pull_dimse(source, spool, today=TODAY)
    assert rest.unreachable == "" and results[0].fetched + rest.fetched == 90
    assert len(list((spool / "pacs").rglob("*.dcm"))) == 90
    assert not any((spool / ".partial").iterdir())


def test_nightly_pulls_and_indexes_a_dimse_source(pacs: OrthancServer, tmp_path: Path) -> None:
    pacs.upload(write_studies(tmp_path / "studies", 1, seed=800)[0])
    config = tmp_path / "dedup.toml"
    config.write_text(f'archive = "archive.duckdb"\nworkers = 1\n\n[[sources]]\nname = "pacs"\n'
                      f'type = "dimse"\nhost = "127.0.0.1"\nport = {pacs.dicom_port}\n'
                      f'called_ae = "ORTHANC"\nstart_date = "20231201"\n')
    report = json.loads(dedup_cli("nightly", "-c", str(config), "--format", "json").stdout)
    assert report["status"] == "ok" and report["sources"][0]["pull"]["fetched"] == 6
    assert report["index"]["instances"] == 6


def test_a_pacs_that_stops_answering_times_out_and_the_next_pull_gets_all(
        pacs: OrthancServer, tmp_path: Path) -> None:
    """Slow answers: the PACS is frozen (SIGSTOP) while asked; the pull gives up in time."""
    pacs.upload(write_studies(tmp_path / "studies", 1, seed=820)[0])
    spool, source = tmp_path / "spool", _source(pacs, start_date="20231201")
    assert pacs.process is not None
    os.kill(pacs.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        frozen = pull_dimse(replace(source, timeout=2), spool, today=TODAY)
        waited = time.monotonic() - started
    finally:
        os.kill(pacs.process.pid, signal.SIGCONT)
    assert frozen.unreachable and frozen.fetched == 0 and waited < 60
    assert pull_dimse(source, spool, today=TODAY).fetched == 6


def test_a_study_the_pacs_cannot_send_is_retried_and_the_others_are_pulled(
        pacs: OrthancServer, tmp_path: Path) -> None:
    """A poison study: one of its files is gone from Orthanc's storage, so C-GET fails."""
    studies = write_studies(tmp_path / "studies", 3, seed=840)
    poison = pacs.upload(studies[0])[0]
    for folder in studies[1:]:
        pacs.upload(folder)
    uuid = pacs.get(f"/instances/{poison}/attachments/dicom/info")["Uuid"]
    (pacs.root / "db" / uuid[:2] / uuid[2:4] / uuid).unlink()
    spool, source = tmp_path / "spool", _source(pacs, start_date="20231201")
    for _ in range(2):  # asked for again each run; the others are pulled once
        result = pull_dimse(source, spool, today=TODAY)
        assert (result.pending, result.unreachable) == (1, "")
        assert result.cursor <= 20240101  # the mark waits for the poison study
    assert len(list((spool / "pacs").rglob("*.dcm"))) >= 12
