from __future__ import annotations

import pytest

from dedup.check import parse_question
from dedup.errors import UsageError
from dedup.match.procedures import load_mapping
from tests.check.archive import HANS


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
                       patient_id="SM-1", procedure="BANANA", within_days="abc",
                       laterality="up")
    message = str(info.value)
    for field in ("name", "birth_date", "sex", "issuer", "unknown procedure", "within_days",
                  "laterality"):
        assert field in message
    assert "1950-99-14" not in message and "SM-1" not in message
