"""Objects without Pixel Data are indexed and matched; only a file cut inside an element is
``truncated``. Every input is made by DCMTK (see :mod:`tests.ingest.objects`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from pydicom import dcmread
from pydicom.filereader import data_element_generator, read_file_meta_info

from dedup.config import Settings
from dedup.fingerprint.instance import fingerprint_location
from dedup.records import Instance, Location, QuarantineReason
from tests.conftest import dedup_cli, index_json, shipped
from tests.ingest.objects import (
    make_gsps,
    make_pdf,
    make_sr,
    make_stripped,
    needs_dcmtk,
    reidentify,
    run,
)

pytestmark = needs_dcmtk

SOP_CLASSES = {"sr": "1.2.840.10008.5.1.4.1.1.88.11", "gsps": "1.2.840.10008.5.1.4.1.1.11.1",
               "pdf": "1.2.840.10008.5.1.4.1.1.104.1", "stripped": "1.2.840.10008.5.1.4.1.1.2"}


def make_objects(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {"sr": make_sr(folder / "sr.dcm", "No focal consolidation."),
            "gsps": make_gsps(folder / "gsps.dcm"), "pdf": make_pdf(folder / "pdf.dcm"),
            "stripped": make_stripped(folder / "stripped.dcm")}


def archived_instances(archive: Path) -> dict[str, tuple[object, ...]]:
    with duckdb.connect(str(archive), read_only=True) as con:
        rows = con.execute("SELECT sop_class_uid, rows, columns, frames, pixel_hash, detail, "
                           "blank FROM instances").fetchall()
    return {row[0]: row[1:] for row in rows}


def test_objects_without_pixel_data_are_indexed(tmp_path: Path) -> None:
    objects = make_objects(tmp_path / "in")
    stripped = dcmread(objects["stripped"])
    assert "PixelData" not in stripped and stripped.Rows == 128  # dcmodify left the header
    summary = index_json(str(tmp_path / "in"), "--archive", str(tmp_path / "a.duckdb"))
    assert (summary["instances"], summary["quarantined"]) == (4, 0), summary
    stored = archived_instances(tmp_path / "a.duckdb")
    assert set(stored) == set(SOP_CLASSES.values())
    hashes = {row[3] for row in stored.values()}
    assert len(hashes) == 4 and all(isinstance(h, bytes) and len(h) == 16 for h in hashes)
    assert {row[:3] + row[4:] for row in stored.values()} == {(0, 0, 0, None, False)}


@pytest.mark.parametrize("name", ["test-SR.dcm", "reportsi.dcm"])
def test_reports_pydicom_ships_are_indexed(name: str) -> None:
    result = fingerprint_location(Location(str(shipped(name))), Settings())
    assert isinstance(result, Instance), result
    assert result.pixel_hash is not None and len(result.pixel_hash) == 16
    assert (result.rows, result.columns, result.frames, result.detail) == (0, 0, 0, None)


def float_image(out: Path, scale: float, sop_uid: str | None = None) -> Path:
    """The shipped CT with its values as Float Pixel Data (written by pydicom)."""
    ds = dcmread(shipped("CT_small.dcm"))
    ds.SOPInstanceUID = sop_uid or ds.SOPInstanceUID
    ds.FloatPixelData = (ds.pixel_array.astype("<f4") * scale).tobytes()
    del ds.PixelData, ds.BitsStored, ds.HighBit, ds.PixelRepresentation
    ds.BitsAllocated = 32
    ds.save_as(out, enforce_file_format=True)
    return out


def test_float_pixel_data_is_an_image_fingerprinted_by_content(tmp_path: Path) -> None:
    made = [float_image(tmp_path / "a.dcm", 1.0),
            float_image(tmp_path / "b.dcm", 1.0, "1.2.826.0.1.3680043.8.498.61"),
            float_image(tmp_path / "c.dcm", 0.5)]
    results = [fingerprint_location(Location(str(path)), Settings()) for path in made]
    assert all(isinstance(r, Instance) for r in results), results
    same, again, other = (r for r in results if isinstance(r, Instance))
    assert (same.rows, same.columns, same.frames, same.detail) == (128, 128, 1, None)
    assert same.pixel_hash == again.pixel_hash != other.pixel_hash


def element_ends(path: Path, *, implicit: bool, little: bool, start: int | None = None
                 ) -> set[int]:
    """Offsets where a top-level element of the data set ends, found by pydicom."""
    if start is None:
        start = 144 + read_file_meta_info(path).FileMetaInformationGroupLength
    ends = {start}
    with open(path, "rb") as fp:
        fp.seek(start)
        for _ in data_element_generator(fp, implicit, little):  # reads each whole element
            ends.add(fp.tell())
    assert max(ends) == path.stat().st_size
    return ends


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("layout", ["explicit", "implicit-undefined-lengths", "big-endian",
                                    "no-preamble"])
def test_only_a_cut_inside_an_element_is_truncated(tmp_path: Path, layout: str) -> None:
    # Every cut of a report: between two elements it is a complete (shorter) object,
    # inside one (its header, its value, a sequence) it is truncated. The first two layouts
    # go through dedup's own parser, the last two through pydicom.
    options = {"explicit": [], "implicit-undefined-lengths": ["+ti", "-e"],
               "big-endian": ["+tb"], "no-preamble": ["-F", "+ti"]}[layout]
    report = tmp_path / "report.dcm"
    run("dcmconv", *options, str(make_sr(tmp_path / "sr.dcm", "No focal consolidation.")),
        str(report))
    ends = element_ends(report, implicit=layout.startswith(("implicit", "no-preamble")),
                        little=layout != "big-endian",
                        start=0 if layout == "no-preamble" else None)
    data, cut_file, outcomes = report.read_bytes(), tmp_path / "cut.dcm", {}
    for size in range(max(min(ends), 8), len(data) + 1):  # 7 bytes or fewer: not DICOM
        cut_file.write_bytes(data[:size])
        result = fingerprint_location(Location(str(cut_file)), Settings())
        outcomes[size] = "indexed" if isinstance(result, Instance) else result.reason
    cuts = {size for size, outcome in outcomes.items() if outcome == QuarantineReason.TRUNCATED}
    assert cuts == set(outcomes) - ends
    assert outcomes[len(data)] == "indexed"


def test_files_cut_inside_an_element_are_quarantined_truncated(tmp_path: Path) -> None:
    objects = make_objects(tmp_path / "made")
    folder = tmp_path / "in"
    folder.mkdir()
    text = objects["sr"].read_bytes()
    finding = text.index(b"No focal consolidation.")
    (folder / "sr.dcm").write_bytes(text[:finding + 5])  # inside the finding's TextValue
    pdf = objects["pdf"].read_bytes()
    (folder / "pdf.dcm").write_bytes(pdf[:pdf.index(b"%PDF") + 100])  # inside the document
    stripped = objects["stripped"].read_bytes()
    (folder / "stripped.dcm").write_bytes(stripped[:-3])  # inside its last element
    shutil.copyfile(objects["gsps"], folder / "gsps.dcm")  # whole
    summary = index_json(str(folder), "--archive", str(tmp_path / "a.duckdb"))
    assert summary["quarantine_reasons"] == {"truncated": 3}, summary
    assert summary["instances"] == 1


def copy_study(files: list[Path], folder: Path, study_uid: str) -> None:
    folder.mkdir(parents=True)
    for n, path in enumerate(files):
        reidentify(path, folder / f"{n}.dcm", study_uid)


def duplicate_rows(archive: Path) -> list[dict[str, object]]:
    rows = json.loads(dedup_cli("duplicates", "--archive", str(archive), "--format",
                                "json").stdout)
    return sorted(rows, key=lambda row: str(row["duplicate_of_study_uid"]))


def test_a_reidentified_copy_of_a_study_with_a_report_is_a_duplicate(tmp_path: Path) -> None:
    # Two archived studies: a CT with its report, and a report alone. Their copies have new
    # UIDs, another patient and shifted dates (dcmodify). The report alone is no evidence:
    # a template report or presentation state hashes alike for many patients, so objects
    # count only beside shared images.
    image = shipped("CT_small.dcm")
    ct_study = str(dcmread(image).StudyInstanceUID)
    archived = tmp_path / "archived"
    (archived / "ct").mkdir(parents=True)
    shutil.copyfile(image, archived / "ct" / "image.dcm")
    make_sr(archived / "ct" / "report.dcm", "No focal consolidation.", study=ct_study)
    (archived / "report").mkdir()
    alone = make_sr(archived / "report" / "report.dcm", "Small left pleural effusion.",
                    study="1.2.826.0.1.3680043.8.498.3001")
    incoming = tmp_path / "incoming"
    copy_study(sorted((archived / "ct").iterdir()), incoming / "ct",
               "1.2.826.0.1.3680043.8.498.41")
    copy_study([alone], incoming / "report", "1.2.826.0.1.3680043.8.498.42")
    archive = tmp_path / "a.duckdb"
    assert index_json(str(archived), "--archive", str(archive))["instances"] == 3
    second = index_json(str(incoming), "--archive", str(archive))
    assert (second["instances"], second["quarantined"]) == (3, 0), second
    found = [(row["study_uid"], row["duplicate_of_study_uid"], row["kind"])
             for row in duplicate_rows(archive)]
    assert found == [("1.2.826.0.1.3680043.8.498.41", ct_study, "same-content")]


def test_template_objects_of_two_patients_are_no_duplicates(tmp_path: Path) -> None:
    # The same standard report text for two patients, and presentation states dcmpsmk made
    # with its defaults: their content hashes agree, and they must not make duplicates.
    archive = tmp_path / "a.duckdb"
    for n, name in enumerate(("NOVAK^ANNA", "WEISS^KARL")):
        folder = tmp_path / "in" / str(n)
        folder.mkdir(parents=True)
        study = f"1.2.826.0.1.3680043.8.498.5{n}"
        files = [make_sr(folder / "report.dcm", "No acute findings.", study=study),
                 make_gsps(folder / "gsps.dcm")]
        for path in files:
            run("dcmodify", "-nb", "-ma", f"PatientName={name}", "-ma", f"PatientID=P{n}",
                "-ma", f"PatientBirthDate=19{60 + n}0101", "-ma", f"StudyInstanceUID={study}",
                str(path))
        assert index_json(str(folder), "--archive", str(archive))["instances"] == 2
    assert duplicate_rows(archive) == []


def test_a_lossy_copy_with_its_report_is_still_near(tmp_path: Path) -> None:
    # The report is copied unchanged, the image lossy (dcmcjpeg): only the report's content
    # hash is shared. Before reports had a hash, this pair was `near`.
    image = shipped("CT_small.dcm")
    study = str(dcmread(image).StudyInstanceUID)
    archived, incoming = tmp_path / "archived", tmp_path / "incoming"
    archived.mkdir()
    incoming.mkdir()
    shutil.copyfile(image, archived / "image.dcm")
    make_sr(archived / "report.dcm", "No focal consolidation.", study=study)
    run("dcmcjpeg", "+ee", "+q", "90", str(image), str(incoming / "image.dcm"))
    shutil.copyfile(archived / "report.dcm", incoming / "report.dcm")
    new_study = "1.2.826.0.1.3680043.8.498.51"
    for path in incoming.iterdir():
        run("dcmodify", "-nb", "-ma", f"StudyInstanceUID={new_study}", "-gse", "-gin",
            str(path))
    archive = tmp_path / "a.duckdb"
    index_json(str(archived), "--archive", str(archive))
    index_json(str(incoming), "--archive", str(archive))
    found = [(row["study_uid"], row["kind"]) for row in duplicate_rows(archive)]
    assert found == [(new_study, "near")]
