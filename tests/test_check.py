from __future__ import annotations

import json
import os
import sqlite3
import threading
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dedup.archive.db import Archive
from dedup.archive.publish import publish
from dedup.check.answer import Channel, Checker, answer, check, parse_question
from dedup.check.link import Person, decide, jaro_winkler, sex_code
from dedup.check.log import CheckLog, fold_check_log, key_path, load_key, log_path
from dedup.config import Settings
from dedup.errors import UsageError
from dedup.match.linkage import normalise_name, score_pairs
from dedup.match.procedures import load_mapping
from tests.check_archive import BORN, LOCATION, ORDER_DATE, PRIORS_OF_HANS, build_check_archive

HANS = {"name": "MUELLER^HANS", "birth_date": BORN.isoformat(), "sex": "M"}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_check_archive(tmp_path_factory.mktemp("check") / "archive.duckdb")


@pytest.fixture(scope="module")
def checker(archive: Path) -> Checker:
    return Checker(archive, Settings(archive=str(archive)), CheckLog(archive))


def ask(checker: Checker, **fields: object) -> object:
    question = checker.parse(**{**HANS, "procedure": "CT HEAD",
                                "order_date": ORDER_DATE.isoformat(), **fields})
    return checker.check(question, client="test", channel=Channel.LIBRARY)


def test_priors_of_the_same_person_and_family_inside_the_window(checker: Checker) -> None:
    result = ask(checker)
    assert [p.study_uid for p in result.priors] == PRIORS_OF_HANS
    latest, direct, swapped = result.priors
    assert (latest.days_ago, latest.institution) == (14, "Klinikum Nord")
    assert latest.link_reasons[0] == "linked in the archive to a matching record"
    assert direct.location == LOCATION and direct.study_date == date(2024, 1, 10)
    assert "name: identical" in direct.link_reasons and direct.link_probability > 0.999
    assert "name: same words, other order" in swapped.link_reasons
    assert result.recommendation.startswith("Possible repeat: 3 CT HEAD studies")
    assert "Klinikum Nord" in result.recommendation and "MUELLER" not in result.recommendation


def test_twin_other_sex_and_guessed_families_never_count(checker: Checker) -> None:
    uids = {p.study_uid for p in ask(checker).priors}
    assert not uids & {"1.2.3.6", "1.2.3.7", "1.2.3.8"}
    karl = ask(checker, name="MUELLER^KARL")
    assert [p.study_uid for p in karl.priors] == ["1.2.3.6"]


def test_window_comes_from_the_table_and_can_be_overridden(checker: Checker) -> None:
    later = (ORDER_DATE + timedelta(days=200)).isoformat()
    assert not ask(checker, order_date=later).priors
    assert len(ask(checker, order_date=later, within_days="700").priors) == 4
    assert ask(checker).window_days == load_mapping().windows["CT HEAD"]


def test_unknown_patient_gets_no_priors(checker: Checker) -> None:
    result = ask(checker, name="NOBODY^KNOWN")
    assert (result.priors, result.patients_matched) == ((), 0)
    assert result.recommendation.startswith("No matching patient")


def test_same_registration_matches_by_issuer_and_id(checker: Checker) -> None:
    result = ask(checker, name="MULLER^H", patient_id="SM-1", issuer="STMARY")
    assert "1.2.3.1" in {p.study_uid for p in result.priors}
    assert ask(checker, name="MULLER^H").patients_matched == 0


@pytest.mark.parametrize(("fields", "family"), [
    ({"modality": "CT", "body_part": "HEAD"}, "CT HEAD"),
    ({"code": "CPT:70450"}, "CT HEAD"),
    ({"description": "CT of the head without contrast"}, "CT HEAD"),
    ({"modality": "MR", "description": "MRI lumbar spine"}, "MR LSPINE"),
    ({"procedure": "ct  head"}, "CT HEAD"),
])
def test_procedure_is_normalised_to_a_family(fields: dict[str, str], family: str) -> None:
    assert parse_question(load_mapping(), **HANS, **fields).family == family


def test_bad_questions_list_every_problem_without_echoing_phi() -> None:
    with pytest.raises(UsageError) as info:
        parse_question(load_mapping(), name="", birth_date="1950-99-14", sex="X",
                       patient_id="SM-1", procedure="CT FOOT", within_days="abc")
    message = str(info.value)
    for field in ("name", "birth_date", "sex", "issuer", "unknown procedure", "within_days"):
        assert field in message
    assert "1950-99-14" not in message and "SM-1" not in message


def test_one_off_check_reads_only_the_birth_date_and_answers_the_same(
        archive: Path, checker: Checker) -> None:
    question = checker.parse(**HANS, procedure="CT HEAD", order_date=ORDER_DATE.isoformat())
    result = check(question, archive=archive)
    assert [p.study_uid for p in result.priors] == PRIORS_OF_HANS


PAIRS = [("MUELLER^HANS", "Müller^Hans"), ("MUELLER^HANS^FRIEDRICH", "Müller^Hans"),
         ("MUELLER^HANS", "HANS^MUELLER"), ("KOWALSKI^PETER", "KOWLASKI^PETER"),
         ("MUELLER^HANS", "MUELLER^KARL"), ("MUELLER^HANS", "SCHMIDT^HANS"),
         ("SCHROEDER^ANNA^MARIA", "ANNA^SCHRÖDER"), ("NOVAK^DANIEL", "NOWAK^DANIELA"),
         ("GARCIA^SOFIA", "GARCIA"), ("LINDQVIST^EMIL", "LINDQUIST^EMIL")]


def test_check_model_agrees_with_the_batch_linkage_model() -> None:
    rows = []
    for n, (a, b) in enumerate(PAIRS):
        born = BORN + timedelta(days=n)
        rows += [(2 * n + 1, "STMARY", a, born, "M", False), (2 * n + 2, "KLINORD", b, born,
                                                                 "M", True)]
    frame = pl.DataFrame(rows, schema=["patient_key", "issuer", "name", "birth_date", "sex",
                                       "is_new"], orient="row")
    batch = {row["patient_key_a"]: row for row in
             score_pairs(frame, prior=1e-5, threshold=0.99).iter_rows(named=True)}
    for n, (a, b) in enumerate(PAIRS):
        mine = decide(Person(normalise_name(a), 1, "STMARY"),
                      Person(normalise_name(b), 1, "KLINORD"), prior=1e-5, threshold=0.99)
        theirs = batch[2 * n + 1]
        assert mine.linked == theirs["linked"], (a, b, mine, theirs)
        assert mine.probability == pytest.approx(theirs["match_probability"], rel=1e-6)


def test_jaro_winkler_is_duckdbs(tmp_path: Path) -> None:
    words = ["MUELLER", "MULLER", "KOWALSKI", "KOWLASKI", "HANS", "HANZ", "DWAYNE", "DUANE",
             "LINDQVIST", "LINDQUIST", "A", "AB"]
    pairs = [(a, b) for a in words for b in words]
    with Archive.open(tmp_path / "jw.duckdb") as db:
        theirs = db.query("SELECT jaro_winkler_similarity(a, b) AS s FROM (VALUES "
                          + ", ".join(f"('{a}', '{b}')" for a, b in pairs) + ") AS t(a, b)")
    for (a, b), expected in zip(pairs, theirs["s"].to_list(), strict=True):
        assert jaro_winkler(a, b) == pytest.approx(expected), (a, b)


def test_sex_codes() -> None:
    assert [sex_code(s) for s in ("M", "female", "O", "", None)] == [1, 2, 0, 0, 0]


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
        archive.execute("INSERT INTO study_procedures VALUES (?, 'CT HEAD', true, 'code', 't')",
                        [study])
        publish(archive)
    assert checker.holder.refresh()
    assert checker.holder.current().generation != before.generation
    assert "9.9.9" in {p.study_uid for p in ask(checker).priors}


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


def test_cli_exit_codes_let_scripts_branch(archive: Path) -> None:
    from tests.conftest import dedup_cli

    base = ["check", "--archive", str(archive), "--name", "MUELLER^HANS", "--birth-date",
            BORN.isoformat(), "--sex", "M", "--date", ORDER_DATE.isoformat()]
    found = dedup_cli(*base, "--procedure", "CT HEAD", "--format", "json", check=False)
    assert found.returncode == 3, found.stderr
    assert [p["study_uid"] for p in json.loads(found.stdout)["priors"]] == PRIORS_OF_HANS
    table = dedup_cli(*base, "--modality", "CT", "--body-part", "head", check=False)
    assert table.returncode == 3 and "1.2.3.4" in table.stdout and "Possible repeat" in table.stdout
    none = dedup_cli(*base, "--procedure", "MR KNEE", check=False)
    assert none.returncode == 0 and none.stdout.startswith("No MR KNEE")
    bad = dedup_cli(*base[:-2], "--date", "someday", "--procedure", "CT FOOT", check=False)
    assert bad.returncode == 2 and "order_date" in bad.stderr and "CT FOOT" in bad.stderr
    no_tokens = dedup_cli("serve", "--archive", str(archive), check=False,
                          env={"DEDUP_SERVICE_TOKENS": "", "DEDUP_TOKENS": ""})
    assert no_tokens.returncode == 2 and "no API tokens" in no_tokens.stderr


def test_background_rebuilds_run_in_a_separate_process_and_are_mapped_in(
        tmp_path: Path) -> None:
    path = build_check_archive(tmp_path / "archive.duckdb")
    holder = Checker(path, Settings(archive=str(path))).holder
    first = holder.current()
    holder._thread = threading.current_thread()  # as if serving: the next build is separate
    with Archive.open(path) as archive:
        publish(archive)
    assert holder.refresh()
    mapped = holder.current()
    assert mapped.generation != first.generation and mapped.patients == first.patients
    assert isinstance(mapped.arrays["s_day"], np.memmap)
    question = parse_question(load_mapping(), **HANS, procedure="CT HEAD",
                              order_date=ORDER_DATE.isoformat())
    assert [p.study_uid for p in answer(mapped, question, Settings()).priors] == PRIORS_OF_HANS
