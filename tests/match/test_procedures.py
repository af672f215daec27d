from __future__ import annotations

import csv
import shutil
from importlib import resources
from pathlib import Path

import pytest
from pydicom.uid import generate_uid

from dedup.archive.db import Archive
from dedup.batch import index
from dedup.config import Settings
from dedup.errors import UsageError
from dedup.match.procedures import (
    MODALITY_GROUPS,
    classify_procedure,
    load_mapping,
    modality_group,
    parse_rules,
)
from tests.ingest.test_parse import dcmodify, knee_image

MAPPING = load_mapping()


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
def test_descriptions_normalise_to_curated_families(modality: str, body: str, description: str,
                                                    family: str) -> None:
    result = classify_procedure(MAPPING, modality, body, description)
    assert result.family == family and result.known and result.curated


@pytest.mark.parametrize(("modality", "body", "description", "family", "region"), [
    ("CR", "HAND", "XR Hand left 3 views", "XR HAND", "HAND"),
    ("CT", "KNEE", "CT KNEE LEFT", "CT KNEE", "KNEE"),
    ("DX", "", "XR C-SPINE 3 VIEWS", "XR CSPINE", "CSPINE"),
    ("DX", "", "XR T-SPINE 2 VIEWS", "XR TSPINE", "TSPINE"),   # TSPINE, not SPINE
    ("MR", "", "MRI CERVICAL SPINE W/O", "MR CSPINE", "CSPINE"),  # curated
    ("MR", "", "MR INTRACRANIAL", "MR BRAIN", "HEAD"),     # a region named after its curated row
    ("CT", "", "CTA ABDOMEN", "CT ANGIO ABDOMEN", "ABDOMEN"),  # angiography: its own family
    ("CT", "", "CT HEAD ANGIOGRAM", "CT ANGIO HEAD", "HEAD"),
    ("CT", "", "CT HEAD NECK", "CT HEADNECK", "HEADNECK"),  # more words than the curated row
    ("PT\\CT", "", "PET CT SKULL BASE TO MID THIGH", "PT WHOLEBODY", "WHOLEBODY"),
    ("RF", "", "FLUORO UPPER GI", "XA OTHER", ""),
    ("XA", "", "ANGIOGRAPHY LOWER EXTREMITY", "XA LOWERLIMB", "LOWERLIMB"),
    ("NM", "", "NM MYOCARDIAL PERFUSION", "NM HEART", "HEART"),
])
def test_any_procedure_gets_a_modality_class_and_a_dicom_region(
        modality: str, body: str, description: str, family: str, region: str) -> None:
    result = classify_procedure(MAPPING, modality, body, description)
    assert (result.family, result.region) == (family, region)
    assert result.known == bool(region)


def test_description_wins_over_a_wrong_body_part_and_code_over_both() -> None:
    assert classify_procedure(MAPPING, "CT", "CHEST", "CT HEAD").family == "CT HEAD"
    coded = classify_procedure(MAPPING, "CT", "CHEST", "CT HEAD", code="C4:74177")
    assert (coded.family, coded.rule) == ("CT ABDOMEN PELVIS", "code")
    playbook = classify_procedure(MAPPING, "MR", "", "OUTSIDE STUDY", code="RADLEX:RPID522")
    assert (playbook.family, playbook.rule) == ("MR KNEE", "code")


def test_series_descriptions_are_the_last_resort() -> None:
    result = classify_procedure(MAPPING, "CT\\SR", "", "OUTSIDE STUDY", series="AX HEAD 5MM")
    assert (result.family, result.rule) == ("CT HEAD", "series")


@pytest.mark.parametrize(("description", "series", "side"), [
    ("XR KNEE LEFT 2 VIEWS", "", "L"),
    ("XR KNEE RT", "", "R"),
    ("XR KNEE BILAT", "", "B"),
    ("XR KNEE 2 VIEWS", "KNEE LEFT AP | KNEE RIGHT AP", "B"),
    ("XR KNEE 2 VIEWS", "LAT | AP", ""),          # LAT is lateral, not left
    ("XR KNEE LEFT", "KNEE RIGHT AP", "L"),        # the study description comes first
])
def test_laterality_is_read_from_the_descriptions(description: str, series: str,
                                                  side: str) -> None:
    assert classify_procedure(MAPPING, "DX", "KNEE", description, series=series
                              ).laterality == side


def test_mammography_views_and_unpaired_regions() -> None:
    views = classify_procedure(MAPPING, "MG", "BREAST", "SCREENING", series="L CC | RMLO")
    assert (views.family, views.laterality) == ("MG BREAST", "B")
    assert classify_procedure(MAPPING, "CT", "HEAD", "CT HEAD LEFT").laterality == "U"


def test_unknown_falls_back_to_the_body_part_as_written() -> None:
    result = classify_procedure(MAPPING, "CT", "GLUTEUS LEFT", "CT SOMETHING")
    assert (result.family, result.known, result.rule) == ("CT GLUTEUS", False, "fallback")
    nothing = classify_procedure(MAPPING, "OT", "", "")
    assert (nothing.family, nothing.rule) == ("OT OTHER", "none")


def test_modality_groups() -> None:
    assert modality_group("CR") == modality_group("DX") == modality_group("RG") == "XR"
    assert modality_group("XA") == modality_group("RF") == "XA"
    assert modality_group("CT\\SR") == "CT"
    assert modality_group("CT\\PT") == "PT"  # the CT of a PET/CT only locates
    assert modality_group("") == "OT"


def test_a_user_table_replaces_the_shipped_one(tmp_path: Path) -> None:
    families = tmp_path / "families.csv"
    families.write_text("family,modality,terms,codes\nCT KNEE,CT,KNEE,\n")
    windows = tmp_path / "windows.csv"
    windows.write_text("family,days,source\nCT KNEE,30,local\nCT,60,local\n")
    mapping = load_mapping(families, windows)
    assert classify_procedure(mapping, "CT", "", "CT KNEE").curated
    assert (mapping.windows, mapping.class_windows) == ({"CT KNEE": 30}, {"CT": 60})
    assert (mapping.window("CT KNEE"), mapping.window("CT HAND"), mapping.window("MR HAND")
            ) == (30, 60, None)
    assert mapping.version != load_mapping().version


def test_malformed_tables_are_reported_together(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"line 2.*line 3"):
        parse_rules("family,modality,terms\n,CT,HEAD\nCT X,,\n")
    with pytest.raises(UsageError, match="lacks columns"):
        parse_rules("name,terms\n")
    with pytest.raises(UsageError, match="not a body region"):
        parse_rules("family,modality,terms,region\nCT X,CT,X,ELBOWS\n", {"ELBOW"})
    with pytest.raises(UsageError, match="cannot read"):
        load_mapping(tmp_path / "missing.csv")


def _rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(resources.files("dedup").joinpath("data", name)
                               .read_text().splitlines()))


def test_every_shipped_window_cites_a_source_and_names_a_family_or_a_class() -> None:
    rows = _rows("lookback_windows.csv")
    families = {r.family for r in MAPPING.rules} | set(MODALITY_GROUPS.values())
    assert rows and all(r["source"].strip() for r in rows)
    assert {r["family"] for r in rows} <= families
    assert set(MAPPING.class_windows) == set(MODALITY_GROUPS.values())


def test_the_region_table_is_dicom_cid_4031_as_pydicom_ships_it() -> None:
    """Every region's SNOMED CT code and meaning are those of pydicom's CID 4031 list."""
    from pydicom.sr.codedict import codes

    shipped = {c.value: c.meaning for c in codes.CID4031.concepts.values()}
    rows = _rows("body_regions.csv")
    assert len(rows) == len(MAPPING.regions) and all(r["source"].strip() for r in rows)
    assert all(shipped.get(r["sct"]) == r["meaning"] for r in rows)
    assert len({r["region"] for r in rows}) == len(rows) and all(
        len(r["region"]) <= 16 for r in rows)  # Body Part Examined is a CS: 16 characters
    assert {"HEAD", "CSPINE", "ABDOMEN", "KNEE"} <= {r["region"] for r in rows}
    head = MAPPING.region("HEAD")
    assert head is not None and frozenset({"BRAIN"}) in head.alternatives


def test_tags_give_the_side_before_the_words() -> None:
    assert classify_procedure(MAPPING, "CR", "KNEE", "XR KNEE RIGHT", tagged="L"
                              ).laterality == "L"
    assert classify_procedure(MAPPING, "CR", "KNEE", "XR KNEE", tagged="LR").laterality == "B"
    assert classify_procedure(MAPPING, "CR", "KNEE", "XR KNEE RT", tagged="U").laterality == "R"
    assert classify_procedure(MAPPING, "CT", "HEAD", "CT HEAD", tagged="L").laterality == "U"


@pytest.mark.skipif(shutil.which("dcmodify") is None, reason="make test installs DCMTK")
def test_indexed_studies_take_their_side_from_the_laterality_tags(tmp_path: Path) -> None:
    """pydicom writes the images, DCMTK's dcmodify sets their laterality, dedup indexes them."""
    studies = {"tagged-left": ("XR KNEE 2 VIEWS", ["L"]), "tag-beats-words": (
        "XR KNEE RIGHT", ["L"]), "words-only": ("XR KNEE RIGHT", [""]),
        "both-knees": ("XR KNEE", ["L", "R"]), "series-tag": ("XR KNEE", ["series R"])}
    uids = {}
    (tmp_path / "in").mkdir()
    for n, (name, (description, sides)) in enumerate(studies.items()):
        uids[name] = generate_uid()
        for m, side in enumerate(sides):
            image = knee_image(tmp_path / "in" / f"{n}-{m}.dcm", uids[name], description,
                               10 * n + m)
            if side.startswith("series "):
                dcmodify(image, "-i", f"(0020,0060)={side[-1]}")
            elif side:
                dcmodify(image, "-i", f"(0020,0062)={side}")
    index([tmp_path / "in"], Settings(archive=str(tmp_path / "a.duckdb"), workers=1,
                                      publish=False))
    with Archive.open(tmp_path / "a.duckdb", read_only=True) as archive:
        found = dict(archive.con.execute(
            "SELECT s.study_uid, p.laterality FROM studies AS s JOIN study_procedures AS p "
            "USING (study_key)").fetchall())
    assert {name: found[uid] for name, uid in uids.items()} == {
        "tagged-left": "L", "tag-beats-words": "L", "words-only": "R", "both-knees": "B",
        "series-tag": "R"}
