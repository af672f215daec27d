from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from dedup.check import Checker
from dedup.match.procedures import load_mapping
from tests.check.archive import HANS, LOCATION, ORDER_DATE, PRIORS_OF_HANS, ask


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
    assert len(ask(checker, order_date=later, within_days="700").priors) == 5
    assert ask(checker).window_days == load_mapping().windows["CT HEAD"]


def test_the_window_ends_at_the_order_date(checker: Checker) -> None:
    """1.2.3.9 was taken 3 days after the order date: a prior only for a later order."""
    assert "1.2.3.9" not in {p.study_uid for p in ask(checker).priors}
    day_after = (ORDER_DATE + timedelta(days=3)).isoformat()
    assert ask(checker, order_date=day_after).priors[0].study_uid == "1.2.3.9"
    assert ask(checker, order_date=day_after).priors[0].days_ago == 0


def test_unknown_patient_gets_no_priors(checker: Checker) -> None:
    result = ask(checker, name="NOBODY^KNOWN")
    assert (result.priors, result.patients_matched) == ((), 0)
    assert result.recommendation.startswith("No matching patient")


def test_same_registration_matches_by_issuer_and_id(checker: Checker) -> None:
    result = ask(checker, name="MULLER^H", patient_id="SM-1", issuer="STMARY")
    assert "1.2.3.1" in {p.study_uid for p in result.priors}
    assert ask(checker, name="MULLER^H").patients_matched == 0


def test_one_off_check_reads_only_the_birth_date_and_answers_the_same(
        archive: Path, checker: Checker) -> None:
    question = checker.parse(**HANS, procedure="CT HEAD", order_date=ORDER_DATE.isoformat())
    result = Checker(archive, one_off=True).check(question)
    assert [p.study_uid for p in result.priors] == PRIORS_OF_HANS


def test_priors_carry_the_viewer_link_of_the_configured_template(archive: Path,
                                                                 checker: Checker) -> None:
    assert all(p.viewer_url == "" for p in ask(checker).priors)
    linked = Checker(archive, checker.settings, one_off=True,
                     viewer_url="https://pacs.example/ohif/viewer?StudyInstanceUIDs={study_uid}")
    priors = ask(linked).as_dict()["priors"]
    assert [p["viewer_url"] for p in priors] == [
        f"https://pacs.example/ohif/viewer?StudyInstanceUIDs={uid}" for uid in PRIORS_OF_HANS]
