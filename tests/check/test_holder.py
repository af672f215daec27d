from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from dedup.archive.db import Archive
from dedup.archive.publish import publish, published_path
from dedup.check import Checker, parse_question
from dedup.check.holder import IndexHolder
from dedup.config import Settings
from dedup.errors import ArchiveError
from dedup.match.procedures import load_mapping
from tests.check.archive import HANS, ORDER_DATE, PRIORS_OF_HANS, ask, build_check_archive


def test_a_new_generation_is_picked_up_without_a_restart(tmp_path: Path) -> None:
    path = build_check_archive(tmp_path / "archive.duckdb")
    checker = Checker(path, Settings(archive=str(path)))
    before = checker.holder.current()
    with Archive.open(path) as archive:
        key = archive.scalar("SELECT patient_key FROM patients WHERE patient_id = 'SM-1'")
        study = archive.scalar("INSERT INTO studies (study_key, study_uid, patient_key, "
                               "study_date, n_series, n_instances, bytes, first_run, last_run) "
                               "VALUES (nextval('study_keys'), '9.9.9', ?, DATE '2024-02-14', "
                               "1, 1, 1, 1, 1) RETURNING study_key", [key])
        archive.execute("INSERT INTO study_procedures (study_key, family, known, rule, mapping) "
                        "VALUES (?, 'CT HEAD', true, 'code', 't')", [study])
        publish(archive)
    assert checker.holder.refresh()
    assert checker.holder.current().generation != before.generation
    assert "9.9.9" in {p.study_uid for p in ask(checker).priors}


def test_background_rebuilds_run_in_a_separate_process_and_are_mapped_in(
        tmp_path: Path) -> None:
    path = build_check_archive(tmp_path / "archive.duckdb")
    checker = Checker(path, Settings(archive=str(path)))
    holder = checker.holder
    first = holder.current()
    holder._thread = threading.current_thread()  # as if serving: the next build is separate
    with Archive.open(path) as archive:
        publish(archive)
    assert holder.refresh()
    mapped = holder.current()
    assert mapped.generation != first.generation and mapped.patients == first.patients
    assert isinstance(mapped.arrays["study_day"], np.memmap)
    question = parse_question(load_mapping(), **HANS, procedure="CT HEAD",
                              order_date=ORDER_DATE.isoformat())
    assert [p.study_uid for p in checker.check(question).priors] == PRIORS_OF_HANS


def _point_link_at(archive: Path, target: Path) -> None:
    link = published_path(archive)
    tmp = link.with_name(".relink")
    tmp.symlink_to(target)
    tmp.replace(link)


def test_a_generation_that_cannot_be_built_is_reported_until_one_can(tmp_path: Path) -> None:
    path = build_check_archive(tmp_path / "archive.duckdb")
    good = published_path(path).resolve()
    broken = good.with_name("1.duckdb")
    broken.write_bytes(b"\x00" * 8192)
    _point_link_at(path, broken)
    holder = IndexHolder(path, reload_seconds=0.5)
    with pytest.raises(ArchiveError):
        holder.refresh()
    first = holder.health()
    assert (first["status"], first["failed_generation"], first["reason"], first["attempts"]) == (
        "failing", "1.duckdb", "ArchiveError", 1)
    assert "generation" not in first and 0 < first["retry_in_seconds"] <= 1.0
    with pytest.raises(ArchiveError):
        holder.refresh()
    second = holder.health()
    assert second["attempts"] == 2 and second["retry_in_seconds"] > first["retry_in_seconds"]
    assert second["failing_since"] == first["failing_since"]
    _point_link_at(path, good)
    assert holder.refresh()
    assert holder.health() == {"status": "ok", "generation": good.name,
                               "built_at": holder.current().built_at}
