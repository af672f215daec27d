from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime

import pytest

from dedup.check import CheckResult, Prior, Question
from dedup.check.result import answer, prior_answer, recommendation

QUESTION = Question("MUELLER^HANS", date(1950, 3, 14), "M", "CT HEAD", 90, date(2024, 2, 15))


def prior(days_ago: int, institution: str | None = "St. Mary Hospital") -> Prior:
    return Prior("1.2.3.1", date(2024, 1, 10), days_ago, institution, "CT HEAD", None, "CT",
                 None, 2, 0.9999, ("birth date equal", "name: identical"))


@pytest.mark.parametrize(("priors", "matched", "expected"), [
    ((), 0, "No matching patient in the archive, so no prior CT HEAD was found; proceed if "
            "indicated."),
    ((), 2, "No CT HEAD in the last 90 days in the archive; proceed if indicated."),
    ((prior(1),), 1, "Possible repeat: a CT HEAD was done 1 day ago at St. Mary Hospital "
                     "(look-back window 90 days); review it before ordering."),
    ((prior(0, None),), 1, "Possible repeat: a CT HEAD was done today (look-back window 90 "
                           "days); review it before ordering."),
    ((prior(-2), prior(30)), 2, "Possible repeat: 2 CT HEAD studies in the last 90 days, the "
                                "latest 2 days after the order date at St. Mary Hospital; "
                                "review them before ordering."),
])
def test_recommendation_reads_as_one_line_without_the_patient(
        priors: tuple[Prior, ...], matched: int, expected: str) -> None:
    assert recommendation(QUESTION, priors, matched) == expected


def test_as_dict_is_plain_json() -> None:
    result = CheckResult("id", datetime(2024, 2, 15, 9, 30), "CT HEAD", 90, date(2024, 2, 15),
                         1, (prior(36),), "text", "gen", 0.1)
    data = json.loads(json.dumps(result.as_dict()))
    assert data["asked_at"] == "2024-02-15T09:30:00.000Z"
    assert data["order_date"] == "2024-02-15" and data["priors"][0]["study_date"] == "2024-01-10"
    assert data["priors"][0]["link_reasons"] == ["birth date equal", "name: identical"]


KNEE = Question("MUELLER^HANS", date(1950, 3, 14), "M", "XR KNEE", 90, date(2024, 2, 15),
                laterality="L")


def knee(side: str, days_ago: int = 3) -> Prior:
    return Prior("1.2.3.9", date(2024, 2, 12), days_ago, "Klinikum Nord", "XR KNEE", None,
                 "DX", None, 2, 0.9999, (), side, prior_answer(KNEE, side))


@pytest.mark.parametrize(("order", "side", "expected"), [
    ("L", "L", "yes"), ("L", "B", "yes"), ("B", "B", "yes"), ("U", "U", "yes"),
    ("L", "", "possible"), ("", "L", "possible"), ("B", "R", "possible"), ("", "", "possible"),
])
def test_a_prior_is_yes_only_when_its_side_surely_covers_the_order(
        order: str, side: str, expected: str) -> None:
    assert prior_answer(replace(KNEE, laterality=order), side) == expected


def test_a_guessed_family_is_only_ever_possible_and_no_region_is_unknown() -> None:
    guessed = replace(KNEE, family="MR TONGUE", laterality="", certain=False)
    assert prior_answer(guessed, "U") == "possible"
    nothing = replace(KNEE, family="CT OTHER", lookup=False)
    assert answer(nothing, ()) == "unknown"
    assert recommendation(nothing, (), 1).startswith("This CT order names no body part")


@pytest.mark.parametrize(("priors", "expected"), [
    ((knee("L"),), "Possible repeat: an XR KNEE (left) was done 3 days ago at Klinikum Nord"),
    ((knee(""),), "Possible prior: an XR KNEE (side not recorded) was done 3 days ago at "
                  "Klinikum Nord (look-back window 90 days), but the side of that study is "
                  "not recorded; check it before ordering."),
    ((), "No XR KNEE (left) in the last 90 days in the archive; proceed if indicated."),
])
def test_the_recommendation_names_the_side_and_why_a_prior_is_only_possible(
        priors: tuple[Prior, ...], expected: str) -> None:
    assert recommendation(KNEE, priors, 1).startswith(expected)
    assert answer(KNEE, priors) == (priors[0].answer if priors else "no")
