from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from dedup.archive.db import Archive
from dedup.check import Channel, Checker, CheckLog, fold_check_log
from dedup.check.log import log_path
from dedup.check.pseudonym import key_path, load_key
from dedup.config import Settings
from dedup.errors import UsageError
from tests.check.archive import ask, build_check_archive


def test_check_log_is_pseudonymised_audited_and_folded(tmp_path: Path) -> None:
    path = build_check_archive(tmp_path / "archive.duckdb")
    checker = Checker(path, Settings(archive=str(path)), CheckLog(path))
    first, second = ask(checker), ask(checker)
    checker.record_outcome(first.check_id, "withdrawn", None, client="t", channel=Channel.HTTP)
    checker.record_outcome(second.check_id, "ordered-anyway", "clinical change", client="t",
                           channel=Channel.HTTP)
    rows = checker.log.rows("checks")
    assert rows[0]["patient_pseudonym"] == rows[1]["patient_pseudonym"]
    assert rows[0]["n_priors"] == 3 and rows[0]["prior_study_uids"].count("1.2.3.") == 3
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("archive.checks.sqlite*"))
    assert b"MUELLER" not in raw and b"1950-03-14" not in raw and b"SM-1" not in raw
    assert os.stat(key_path(path)).st_mode & 0o777 == 0o600
    with Archive.open(path) as archive:
        assert fold_check_log(archive) == (2, 2)
        assert fold_check_log(archive) == (0, 0)
        outcomes = archive.query("SELECT outcome, reason FROM outcomes ORDER BY outcome")
    assert outcomes.rows() == [("ordered-anyway", "clinical change"), ("withdrawn", None)]
    with sqlite3.connect(log_path(path)) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unknown_check_and_readable_key_are_refused(tmp_path: Path) -> None:
    path = build_check_archive(tmp_path / "archive.duckdb")
    log = CheckLog(path)
    with pytest.raises(UsageError, match="unknown check_id"):
        log.record_outcome("nope", "withdrawn", None, client="t",  # type: ignore[arg-type]
                           channel=Channel.HTTP)
    os.chmod(key_path(path), 0o644)
    with pytest.raises(UsageError, match="chmod 600"):
        load_key(key_path(path))
