from __future__ import annotations

import pytest
from pydicom import dcmread
from pydicom.multival import MultiValue

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
