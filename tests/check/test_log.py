from __future__ import annotations

import os
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from dedup.archive.db import Archive
from dedup.check import (
    Channel,
    Checker,
    CheckLog,
    Decision,
    NotYourCheck,
    Outcome,
    Recorded,
    fold_check_log,
)
from dedup.check.log import log_path
from dedup.check.outcome import ContradictoryDecisions
from dedup.check.pseudonym import key_path, load_key
from dedup.config import Settings
from dedup.errors import ExitCode, UsageError
from tests.check.archive import HANS, ORDER_DATE, ask, build_check_archive
from tests.conftest import dedup_cli
from tests.service.conftest import AUTH, running_server


def test_check_log_is_pseudonymised_audited_and_folded(tmp_path: Path) -> None:
    path = build_check_archive(tmp_path / "archive.duckdb")
    checker = Checker(path, Settings(archive=str(path)), CheckLog(path))
    first, second = ask(checker), ask(checker)
    checker.record_outcome(first.check_id, "withdrawn", None, client="test",
                           channel=Channel.HTTP)
    checker.record_outcome(second.check_id, "ordered-anyway", "clinical change",
                           client="test", channel=Channel.HTTP)
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
        log.record_outcomes([Decision("nope", Outcome.WITHDRAWN)], client="t",
                            channel=Channel.HTTP)
    os.chmod(key_path(path), 0o644)
    with pytest.raises(UsageError, match="chmod 600"):
        load_key(key_path(path))


def test_outcomes_belong_to_the_caller_that_asked_unless_allowed(tmp_path: Path) -> None:
    path = build_check_archive(tmp_path / "archive.duckdb")
    checker = Checker(path, Settings(archive=str(path)), CheckLog(path))
    mine = ask(checker).check_id  # asked by "test"
    cds = checker.check(checker.parse(**HANS, procedure="CT HEAD"), client="test Practitioner/1",
                        channel=Channel.CDS_HOOKS).check_id
    with pytest.raises(NotYourCheck) as refused:
        checker.record_outcomes([Decision(cds, "withdrawn"), Decision(mine, "withdrawn")],
                                client="intruder", channel=Channel.HTTP)
    assert refused.value.check_ids == (cds, mine)
    assert checker.log.rows("outcomes") == []  # none of the two
    assert checker.record_outcome(cds, "withdrawn", None, client="test",
                                  channel=Channel.CDS_HOOKS).written  # the EHR user's token
    allowed = checker.record_outcome(mine, "withdrawn", None, client="ehr",
                                     channel=Channel.HTTP, any_check=True)
    assert allowed.written and [r["client"] for r in checker.log.rows("outcomes")] == [
        "test", "ehr"]


def test_the_server_clock_orders_outcomes_and_conflicts_are_reported(tmp_path: Path) -> None:
    path = build_check_archive(tmp_path / "archive.duckdb")
    checker = Checker(path, Settings(archive=str(path)), CheckLog(path))
    check_id = ask(checker).check_id

    def record(outcome: str, reason: str | None = None, reported: datetime | None = None
               ) -> Recorded:
        return checker.record_outcome(check_id, outcome, reason, client="test",
                                      channel=Channel.HTTP, reported_at=reported)

    before = datetime.now(UTC).replace(tzinfo=None)
    future = record("withdrawn", reported=datetime(2031, 1, 1, tzinfo=UTC))
    assert future.written and future.replaced is None
    assert before <= future.decided_at <= datetime.now(UTC).replace(tzinfo=None)
    assert not record("withdrawn").written  # the same again: nothing written
    anyway = record("ordered-anyway", "clinical change", datetime(2001, 1, 1, tzinfo=UTC))
    assert anyway.written and anyway.decided_at > future.decided_at
    assert (anyway.replaced, anyway.replaced_at) == (Outcome.WITHDRAWN, future.decided_at)
    reason = record("ordered-anyway", "other reason")  # a new reason: written, no conflict
    assert reason.written and reason.replaced is None
    rows = checker.log.rows("outcomes")
    assert [(r["outcome"], r["reported_at"]) for r in rows] == [
        ("withdrawn", "2031-01-01 00:00:00.000000"), ("ordered-anyway",
                                                      "2001-01-01 00:00:00.000000"),
        ("ordered-anyway", None)]
    with pytest.raises(ContradictoryDecisions):
        checker.record_outcomes([Decision(check_id, "withdrawn"),
                                 Decision(check_id, "ordered-anyway")], client="test",
                                channel=Channel.HTTP)
    twice = checker.record_outcomes([Decision(check_id, "withdrawn")] * 2, client="test",
                                    channel=Channel.HTTP)
    assert [r.written for r in twice] == [True, False] and len(checker.log.rows("outcomes")) == 4
    with Archive.open(path) as archive:  # the latest by the server's clock counts
        fold_check_log(archive)
        latest = archive.query("SELECT arg_max(outcome, decided_at) FROM outcomes")
    assert latest.item() == "withdrawn"


def test_a_log_from_before_reported_at_is_brought_up_to_date(tmp_path: Path) -> None:
    path = build_check_archive(tmp_path / "archive.duckdb")
    with sqlite3.connect(log_path(path)) as old:
        old.executescript(OLD_LOG)
    checker = Checker(path, Settings(archive=str(path)), CheckLog(path))
    recorded = checker.record_outcome(ask(checker).check_id, "withdrawn", None, client="test",
                                      channel=Channel.HTTP)
    assert recorded.written and checker.log.rows("outcomes")[0]["reported_at"] is None


OLD_LOG = """
CREATE TABLE checks (
    check_id TEXT PRIMARY KEY, asked_at TEXT NOT NULL, client TEXT NOT NULL,
    channel TEXT NOT NULL, patient_pseudonym TEXT NOT NULL, family TEXT, modality TEXT,
    order_date TEXT, within_days INTEGER, institution TEXT, n_priors INTEGER NOT NULL,
    prior_study_uids TEXT NOT NULL, recommendation TEXT NOT NULL, latency_ms REAL);
CREATE TABLE outcomes (
    check_id TEXT NOT NULL, decided_at TEXT NOT NULL, outcome TEXT NOT NULL, reason TEXT,
    client TEXT NOT NULL, channel TEXT NOT NULL, PRIMARY KEY (check_id, decided_at));
"""


def test_server_cli_and_nightly_agree_on_the_state_dir_log(tmp_path: Path) -> None:
    """One config: the server and ``dedup check`` write one log there, the nightly folds it."""
    path = build_check_archive(tmp_path / "archive.duckdb")
    (tmp_path / "incoming").mkdir()
    config = tmp_path / "dedup.toml"
    config.write_text('archive = "archive.duckdb"\nstate_dir = "state"\n[[sources]]\n'
                      'name = "incoming"\ntype = "folder"\npath = "incoming"\n')
    state = tmp_path / "state"
    question = {**HANS, "procedure": "CT HEAD", "order_date": ORDER_DATE.isoformat()}
    with running_server(path, "state", DEDUP_CONFIG=str(config)) as url:
        answer = httpx.get(f"{url}/v1/priors", params=question, headers=AUTH, timeout=20)
        assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 10
        while not log_path(path, state).exists() or not CheckLog(
                path, state_dir=state).rows("checks"):
            assert time.monotonic() < deadline, "the server's check never reached the log"
            time.sleep(0.05)
    cli = dedup_cli("check", "--config", str(config), "--name", HANS["name"], "--birth-date",
                    HANS["birth_date"], "--sex", "M", "--procedure", "CT HEAD", "--date",
                    ORDER_DATE.isoformat(), check=False)
    assert cli.returncode == ExitCode.PRIORS_FOUND, cli.stderr
    rows = CheckLog(path, state_dir=state).rows("checks")
    assert sorted(str(r["channel"]) for r in rows) == ["cli", "http"]
    assert not log_path(path).exists() and not key_path(path).exists()
    assert {os.stat(p).st_mode & 0o777 for p in (log_path(path, state),
                                                 key_path(path, state))} == {0o600}
    assert os.stat(state).st_mode & 0o777 == 0o700
    dedup_cli("nightly", "--config", str(config))
    with Archive.open(path) as archive:
        folded = archive.query("SELECT channel FROM checks ORDER BY channel")
    assert folded.rows() == [("cli",), ("http",)]


def test_a_log_left_next_to_the_archive_is_not_forked(tmp_path: Path) -> None:
    path = build_check_archive(tmp_path / "archive.duckdb")
    CheckLog(path).close()
    with pytest.raises(UsageError, match="move it and its key"):
        CheckLog(path, state_dir=tmp_path / "state")
    with Archive.open(path) as archive, pytest.raises(UsageError, match="move it"):
        fold_check_log(archive, tmp_path / "state")
