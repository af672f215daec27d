"""The content hash of objects without Pixel Data, on objects DCMTK made and modified."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.datadict import tag_for_keyword

from dedup.fingerprint.content import IDENTITY_KEYWORDS, content_hash
from dedup.fingerprint.pixels import PixelFormat, canonical, pixel_hash
from tests.conftest import shipped
from tests.ingest import objects

pytestmark = objects.needs_dcmtk

MAKERS: dict[str, Callable[[Path], Path]] = {
    "sr": lambda out: objects.make_sr(out, "No focal consolidation. Heart size normal."),
    "gsps": objects.make_gsps,
    "pdf": objects.make_pdf,
    "stripped": objects.make_stripped,
}


def hash_of(path: Path) -> bytes:
    return content_hash(dcmread(path, force=True))  # force: a data set without preamble


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_a_reidentified_copy_has_the_same_content_hash(tmp_path: Path, kind: str) -> None:
    original = MAKERS[kind](tmp_path / f"{kind}.dcm")
    copy = objects.reidentify(original, tmp_path / f"{kind}-copy.dcm")
    a, b = dcmread(original), dcmread(copy)
    for uid in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        assert a[uid].value != b[uid].value, f"dcmodify kept {uid}"
    assert (str(b.PatientName), b.StudyDate) == (objects.REIDENTIFIED["PatientName"],
                                                 objects.REIDENTIFIED["StudyDate"])
    assert a.PatientName != b.PatientName and a.StudyDate != b.StudyDate
    digest = content_hash(a)
    assert len(digest) == 16
    assert content_hash(b) == digest


def test_a_date_inside_the_report_tree_is_left_out(tmp_path: Path) -> None:
    original = objects.make_sr(tmp_path / "sr.dcm", "No focal consolidation.")
    copy = objects.reidentify(original, tmp_path / "copy.dcm")
    dates = [dcmread(p).ContentSequence[1].Date for p in (original, copy)]
    assert dates == ["20240301", objects.REIDENTIFIED["(0040,a121)"]]
    assert hash_of(original) == hash_of(copy)


def test_different_reports_have_different_hashes(tmp_path: Path) -> None:
    study = "1.2.826.0.1.3680043.8.498.1001"  # same study, patient and dates: only the text
    first = objects.make_sr(tmp_path / "first.dcm", "No focal consolidation.", study=study)
    second = objects.make_sr(tmp_path / "second.dcm", "Small left pleural effusion.", study=study)
    assert hash_of(first) != hash_of(second)


def test_the_document_of_an_encapsulated_pdf_is_content(tmp_path: Path) -> None:
    first = objects.make_pdf(tmp_path / "first.dcm")
    again = objects.make_pdf(tmp_path / "again.dcm")
    other = objects.make_pdf(tmp_path / "other.dcm", "Discharge letter: no fracture.")  # as long
    assert dcmread(first).SOPInstanceUID != dcmread(again).SOPInstanceUID
    assert hash_of(first) == hash_of(again)
    assert hash_of(first) != hash_of(other)


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_every_encoding_of_an_object_has_the_same_hash(tmp_path: Path, kind: str) -> None:
    original = MAKERS[kind](tmp_path / f"{kind}.dcm")
    expected = hash_of(original)
    for name, options in {"implicit": ["+ti"], "big-endian": ["+tb"], "deflated": ["+td"],
                          "undefined-lengths": ["+ti", "-e"], "no-preamble": ["-F", "+ti"],
                          "utf-8": ["+U8"]}.items():
        copy = tmp_path / f"{kind}-{name}.dcm"
        objects.run("dcmconv", *options, str(original), str(copy))
        assert copy.read_bytes() != original.read_bytes()
        assert hash_of(copy) == expected, name


def test_text_in_another_character_set_has_the_same_hash(tmp_path: Path) -> None:
    original = objects.make_sr(tmp_path / "sr.dcm", "Lungenödem, Pleuraergüsse beidseits.")
    utf8 = tmp_path / "utf8.dcm"
    objects.run("dcmconv", "+U8", str(original), str(utf8))
    assert dcmread(utf8).SpecificCharacterSet == "ISO_IR 192"
    assert b"\xc3\xb6" in utf8.read_bytes() and b"\xc3\xb6" not in original.read_bytes()
    assert hash_of(utf8) == hash_of(original)


def test_content_changes_the_hash_identity_and_private_data_do_not(tmp_path: Path) -> None:
    original = objects.make_sr(tmp_path / "sr.dcm", "No focal consolidation.")
    expected = hash_of(original)
    edits = {
        "finding": (["-m", "ContentSequence[2].TextValue=Right lower lobe consolidation."],
                    False),
        "manufacturer": (["-m", "Manufacturer=Other Vendor"], False),
        "completion": (["-m", "CompletionFlag=PARTIAL"], False),
        "institution": (["-i", "InstitutionName=Other Hospital"], True),
        "physician": (["-m", "ReferringPhysicianName=Someone^Else"], True),
        "private": (["-i", "(0009,0010)=GEMS_IDEN_01", "-i", "(0009,1001)=site data"], True),
        "observer": (["-m", "ContentSequence[0].PersonName=Other^Observer"], True),
    }
    for name, (options, same) in edits.items():
        copy = tmp_path / f"{name}.dcm"
        copy.write_bytes(original.read_bytes())
        objects.run("dcmodify", "-nb", *options, str(copy))
        assert copy.read_bytes() != original.read_bytes(), name
        assert (hash_of(copy) == expected) is same, name


def test_objects_never_share_a_hash_with_the_image_they_come_from(tmp_path: Path) -> None:
    stripped = objects.make_stripped(tmp_path / "stripped.dcm")
    image = dcmread(shipped("CT_small.dcm"))
    fmt = PixelFormat(rows=image.Rows, columns=image.Columns, bits_allocated=16,
                      pixel_representation=image.PixelRepresentation)
    pixels = pixel_hash(fmt, canonical(fmt, image.pixel_array))
    assert hash_of(stripped) != pixels


def test_identity_keywords_name_real_attributes() -> None:
    assert [k for k in IDENTITY_KEYWORDS if tag_for_keyword(k) is None] == []
