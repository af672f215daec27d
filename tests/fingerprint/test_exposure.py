"""The exposure record: one exposure's placement and dose, kept by de-identifiers."""

from __future__ import annotations

from pydicom import uid

from dedup.fingerprint.exposure import LOSSY_SYNTAXES, exposure_record, lossy_code

CT = {"ImagePositionPatient": "-122.500\\-112.400\\47.000", "TableHeight": "185.500000",
      "Exposure": "85", "XRayTubeCurrent": "170", "ExposureTime": "2000"}


def record(values: dict[str, str]) -> bytes | None:
    return exposure_record(lambda name: values.get(name, ""))


def test_the_same_numbers_written_otherwise_are_one_record() -> None:
    rewritten = CT | {"ImagePositionPatient": "-122.5\\-112.4\\47", "TableHeight": "185.5 "}
    assert record(CT) is not None and record(CT) == record(rewritten)
    assert len(record(CT) or b"") == 8


def test_another_placement_or_exposure_is_another_record() -> None:
    for name, value in (("TableHeight", "185.0"), ("ImagePositionPatient", "-122.5\\-112.4\\49"),
                        ("Exposure", "86")):
        assert record(CT | {name: value}) != record(CT), name


def test_a_record_needs_a_placement_and_an_exposure() -> None:
    assert record({"TableHeight": "654.82"}) is None  # where, but not what
    assert record({"CountsAccumulated": "3596452"}) is None  # what, but not where
    assert record({"TableHeight": "654.82", "CountsAccumulated": "3596452"}) is not None
    assert record({"TableHeight": "n/a", "Exposure": "85"}) is None  # not a number
    assert record({}) is None


def test_lossy_code_tells_codecs_apart_and_reads_lossy_image_compression() -> None:
    assert lossy_code(uid.ExplicitVRLittleEndian, "") == 0
    assert lossy_code(uid.JPEGLosslessSV1, "00") == 0
    baseline, j2k = lossy_code(uid.JPEGBaseline8Bit, ""), lossy_code(uid.JPEG2000, "01")
    assert 0 < baseline != j2k > 0
    assert lossy_code(uid.ExplicitVRLittleEndian, "01") == 255  # decompressed after loss


def test_the_lossy_syntaxes_are_pydicoms_in_the_order_signatures_store() -> None:
    pydicoms = (uid.JPEGBaseline8Bit, uid.JPEGExtended12Bit, uid.JPEGLSNearLossless,
                uid.JPEG2000, uid.JPEG2000MC, uid.HTJ2K, *uid.MPEGTransferSyntaxes)
    assert list(map(str, pydicoms)) == list(LOSSY_SYNTAXES)
