from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.uid import ComputedRadiographyImageStorage, ExplicitVRLittleEndian, generate_uid

from dedup.ingest.parse import TEXT_TAGS, US_TAGS, ParseError, Unsupported, parse
from tests.conftest import shipped

LITTLE_ENDIAN = ["CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "MR_small_RLE.dcm",
                 "MR_small_jp2klossless.dcm", "JPEG2000.dcm", "examples_ybr_color.dcm",
                 "rtplan.dcm", "reportsi.dcm", "examples_palette.dcm", "liver_1frame.dcm"]


@pytest.mark.parametrize("name", LITTLE_ENDIAN)
def test_values_match_pydicom(name: str) -> None:
    path = shipped(name)
    header = parse(path.read_bytes())
    ds = dcmread(path)
    for keyword in (*TEXT_TAGS.values(), *US_TAGS.values()):
        if keyword in ("CodeValue", "CodingSchemeDesignator", "SpecificCharacterSet"):
            continue
        expected = ds.get(keyword)
        if expected in (None, ""):
            assert keyword not in header.values or header.values[keyword] in ("", 0)
            continue
        got = header.values[keyword]
        assert _normal(got) == _normal(expected), keyword
    assert header.transfer_syntax == ds.file_meta.TransferSyntaxUID


def test_pixel_position_native() -> None:
    path = shipped("MR_small.dcm")
    data = path.read_bytes()
    header = parse(data)
    ds = dcmread(path)
    assert header.pixel_offset is not None and header.pixel_length == len(ds.PixelData)
    offset = header.pixel_offset
    assert data[offset:offset + header.pixel_length] == ds.PixelData


def test_big_endian_goes_to_general_reader() -> None:
    with pytest.raises(Unsupported):
        parse(shipped("MR_small_bigendian.dcm").read_bytes())


def test_truncated_pixel_data() -> None:
    with pytest.raises(ParseError) as info:
        parse(shipped("MR_truncated.dcm").read_bytes())
    assert info.value.reason == "truncated"


def test_truncated_inside_header() -> None:
    data = shipped("CT_small.dcm").read_bytes()[:500]
    with pytest.raises(ParseError) as info:
        parse(data)
    assert info.value.reason == "truncated"


def test_sequence_first_item_is_read() -> None:
    data = shipped("rtplan.dcm").read_bytes()  # has many nested sequences
    header = parse(data)
    assert header.values["Modality"] == "RTPLAN"
    assert not any(k.startswith("\x00") for k in header.values)


def test_no_preamble_is_unsupported() -> None:
    with pytest.raises(Unsupported):
        parse(b"hello world" * 20)


def _normal(value: object) -> list[object]:
    items = list(value) if isinstance(value, MultiValue) else (
        str(value).split("\\") if isinstance(value, str) else [value])
    out: list[object] = []
    for item in items:
        try:
            out.append(round(float(item), 4))  # DS/IS/US compare as numbers
        except (TypeError, ValueError):
            out.append(str(item).strip())
    return out


def knee_image(path: Path, study_uid: str, description: str, seed: int) -> Path:
    """A small CR knee image written by pydicom (no laterality tag: DCMTK adds them)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ComputedRadiographyImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, generate_uid()
    ds.PatientName, ds.PatientID = "DOE^JO", "P1"
    ds.PatientBirthDate, ds.PatientSex = "19700101", "F"
    ds.StudyDate, ds.Modality, ds.BodyPartExamined = "20240301", "CR", "KNEE"
    ds.StudyDescription, ds.InstitutionName = description, "St. Mary Hospital"
    ds.Rows = ds.Columns = 64
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = np.random.default_rng(seed).integers(0, 4096, (64, 64), np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def dcmodify(path: Path, *args: str) -> None:
    subprocess.run(["dcmodify", "-nb", *args, str(path)], check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("dcmodify") is None, reason="make test installs DCMTK")
def test_laterality_tags_set_by_dcmodify_are_read(tmp_path: Path) -> None:
    image = knee_image(tmp_path / "image.dcm", generate_uid(), "XR KNEE", 1)
    assert {"Laterality", "ImageLaterality"}.isdisjoint(parse(image.read_bytes()).values)
    dcmodify(image, "-i", "(0020,0062)=L", "-i", "(0020,0060)=R")
    values = parse(image.read_bytes()).values
    assert (values["ImageLaterality"], values["Laterality"]) == ("L", "R")
    frames = knee_image(tmp_path / "frames.dcm", generate_uid(), "XR KNEE", 2)
    dcmodify(frames, "-i", "(5200,9229)[0].(0020,9071)[0].(0020,9072)=B",
             "-i", "(5200,9229)[0].(0028,9110)[0].(0018,0050)=1")
    undefined = frames.with_name("undefined.dcm")
    # dcmodify writes sequences of explicit length, dcmconv -e of undefined length
    subprocess.run(["dcmconv", "-e", str(frames), str(undefined)], check=True)
    for path in (frames, undefined):
        values = parse(path.read_bytes()).values
        assert values["FrameAnatomySequence.FrameLaterality"] == "B"
        assert "FrameLaterality" not in values and "SliceThickness" not in values
