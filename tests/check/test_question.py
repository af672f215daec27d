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


@pytest.mark.parametrize(("fields", "family", "side"), [
    ({"modality": "CR", "body_part": "HAND", "description": "XR Hand left 3 views"},
     "XR HAND", "L"),
    ({"procedure": "XR HAND", "laterality": "right"}, "XR HAND", "R"),
    ({"procedure": "XR HAND LT"}, "XR HAND", "L"),
    ({"procedure": "MR KNEE", "laterality": "51440002"}, "MR KNEE", "B"),  # SNOMED CT: both
    ({"modality": "MR", "body_part": "Left knee"}, "MR KNEE", "L"),  # a FHIR bodySite text
    ({"procedure": "CT HEAD", "laterality": "L"}, "CT HEAD", "U"),  # a head has no sides
    ({"procedure": "MR HEAD"}, "MR BRAIN", "U"),
    ({"modality": "CT", "body_part": "GLUTEUS"}, "CT GLUTEUS", ""),
])
def test_every_order_with_a_modality_gets_a_family_and_a_side(
        fields: dict[str, str], family: str, side: str) -> None:
    question = parse_question(load_mapping(), **HANS, **fields)
    assert (question.family, question.laterality, question.window_days) == (family, side, 90)
    assert question.basis.startswith(family) and question.lookup


def test_an_order_with_no_body_part_is_answered_not_refused() -> None:
    question = parse_question(load_mapping(), **HANS, modality="RF",
                              description="fluoro fistulogram")
    assert (question.family, question.lookup) == ("XA OTHER", False)
    with pytest.raises(UsageError, match="not an imaging modality"):
        parse_question(load_mapping(), **HANS, modality="ECG", body_part="CHEST")
