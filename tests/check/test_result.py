from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from dedup.check import CheckResult, Prior, Question
from dedup.check.result import recommendation

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
