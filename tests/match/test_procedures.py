from __future__ import annotations

from pathlib import Path

import pytest

from dedup.errors import UsageError
from dedup.match.procedures import classify_procedure, load_mapping, modality_group, parse_rules

RULES = load_mapping().rules


@pytest.mark.parametrize(("modality", "body", "description", "family"), [
    ("CT", "HEAD", "CT HEAD W/O CONTRAST", "CT HEAD"),
    ("CT", "ABDOMENPELVIS", "CT ABDOMEN PELVIS", "CT ABDOMEN PELVIS"),
    ("CT", "", "CT ABD PELVIS W CONTRAST", "CT ABDOMEN PELVIS"),
    ("CT", "CHEST", "CT CHEST WITH CONTRAST", "CT CHEST"),
    ("MR", "LSPINE", "MR L-SPINE", "MR LSPINE"),
    ("MR", "", "MRI LUMBAR SPINE", "MR LSPINE"),
    ("MR", "BRAIN", "MR BRAIN W/O CONTRAST", "MR BRAIN"),
    ("DX", "CHEST", "XR CHEST 2 VIEWS", "XR CHEST"),
    ("CR", "", "THORAX PA", "XR CHEST"),
    ("US", "ABDOMEN", "US ABD COMPLETE", "US ABDOMEN"),
])
def test_descriptions_normalise_to_families(modality: str, body: str, description: str,
                                            family: str) -> None:
    result = classify_procedure(RULES, modality, body, description)
    assert result.family == family and result.known


def test_description_wins_over_a_wrong_body_part_and_code_over_both() -> None:
    assert classify_procedure(RULES, "CT", "CHEST", "CT HEAD").family == "CT HEAD"
    coded = classify_procedure(RULES, "CT", "CHEST", "CT HEAD", code="C4:74177")
    assert (coded.family, coded.rule) == ("CT ABDOMEN PELVIS", "code")


def test_series_descriptions_are_the_last_resort() -> None:
    result = classify_procedure(RULES, "CT\\SR", "", "OUTSIDE STUDY", series="AX HEAD 5MM")
    assert (result.family, result.rule) == ("CT HEAD", "series")


def test_unknown_falls_back_and_is_marked_unknown() -> None:
    result = classify_procedure(RULES, "CT", "KNEE", "CT KNEE LEFT")
    assert result == classify_procedure(RULES, "CT", "KNEE", "")
    assert (result.family, result.known, result.rule) == ("CT KNEE", False, "fallback")
    assert classify_procedure(RULES, "OT", "", "").family == "OT OTHER"


def test_modality_groups() -> None:
    assert modality_group("CR") == modality_group("DX") == "XR"
    assert modality_group("CT\\SR") == "CT"
    assert modality_group("") == "OT"


def test_a_user_table_replaces_the_shipped_one(tmp_path: Path) -> None:
    families = tmp_path / "families.csv"
    families.write_text("family,modality,terms,codes\nCT KNEE,CT,KNEE,\n")
    windows = tmp_path / "windows.csv"
    windows.write_text("family,days,source\nCT KNEE,30,local\n")
    mapping = load_mapping(families, windows)
    assert classify_procedure(mapping.rules, "CT", "", "CT KNEE").known
    assert mapping.windows == {"CT KNEE": 30}
    assert mapping.version != load_mapping().version


def test_malformed_tables_are_reported_together(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"line 2.*line 3"):
        parse_rules("family,modality,terms\n,CT,HEAD\nCT X,,\n")
    with pytest.raises(UsageError, match="lacks columns"):
        parse_rules("name,terms\n")
    with pytest.raises(UsageError, match="cannot read"):
        load_mapping(tmp_path / "missing.csv")


def test_every_shipped_window_cites_a_source_and_names_a_family() -> None:
    import csv
    from importlib import resources

    text = resources.files("dedup").joinpath("data", "lookback_windows.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    families = {r.family for r in RULES}
    assert rows and all(r["source"].strip() for r in rows)
    assert {r["family"] for r in rows} <= families
