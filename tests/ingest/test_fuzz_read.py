"""Fuzzing the reading path in CI: mutated real files are read or quarantined, never a crash.

The CI run is short and derandomized (the same examples every run, so it cannot turn flaky);
``DEDUP_FUZZ_EXAMPLES=20000 DEDUP_FUZZ_RANDOM=1 pytest tests/ingest/test_fuzz_read.py`` explores
more, and ``make fuzz`` runs the coverage-guided atheris harness (``fuzz/fuzz_read.py``).
Every crash found becomes a regression case below: a seed file plus byte patches.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom import dcmread

from dedup.batch.pipeline import index
from dedup.config import Settings
from dedup.records import Instance, Quarantined
from fuzz.mutations import HEADER_BYTES, OPS, Reader, apply_ops, seeds

SEEDS = seeds()
EXAMPLES = int(os.environ.get("DEDUP_FUZZ_EXAMPLES", "3000"))

positions = st.one_of(st.integers(0, HEADER_BYTES - 1), st.integers(0, 1 << 24))
operations = st.lists(st.tuples(st.integers(0, len(OPS) - 1), positions,
                                st.integers(0, 2**32 - 1)), min_size=1, max_size=4)


@pytest.fixture(scope="module")
def reader() -> Iterator[Reader]:
    scratch = Reader()
    yield scratch
    scratch.close()


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get(
    "DEDUP_FUZZ_RANDOM"), suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(SEEDS)), ops=operations)
def test_mutated_files_are_read_or_quarantined(reader: Reader, name: str,
                                               ops: list[tuple[int, int, int]]) -> None:
    reader.read(apply_ops(SEEDS[name], ops))


def patched(name: str, patches: list[tuple[int, int, bytes]]) -> bytes:
    """A seed with ``data[start:end]`` replaced, for each (start, end, bytes) in the seed."""
    data = SEEDS[name]
    for start, end, replacement in sorted(patches, reverse=True):
        data = data[:start] + replacement + data[end:]
    return data


def single_valued_position() -> bytes:
    """A file without preamble (the pydicom path) whose ImagePositionPatient has one value."""
    ds = dcmread(io.BytesIO(SEEDS["MR_small.dcm"]))
    ds.ImagePositionPatient = 1.5
    ds.preamble = None
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=False, implicit_vr=False, little_endian=True)
    return out.getvalue()


#: Crashes the fuzzers found: (what crashed, input, expected quarantine reason or None = ok).
REGRESSIONS = {
    "unknown VR read lazily by pydicom (NotImplementedError)": (
        lambda: patched("JPEG-lossy.dcm", [(529, 529, b"\xda\x1c\xf6\xba"), (1102, 1103, b""),
                                           (1690, 1698, b"")]), "corrupt"),
    "odd length of a US value (BytesLengthException)": (
        lambda: patched("MR_small_jp2klossless.dcm", [(1229, 1230, b"v"),
                                                      (1410, 1411, b"\x1d")]), "corrupt"),
    "NUL byte in Specific Character Set (ValueError in codecs.lookup)": (
        lambda: patched("SC_rgb_jpeg_gdcm.dcm", [(397, 399, b"\x01\x00"), (891, 899, b"")]),
        "decode-failed"),
    "long-VR element header cut by the end of file (struct.error)": (
        lambda: SEEDS["rtplan.dcm"][:153], "truncated"),
    "single-valued ImagePositionPatient on the pydicom path (TypeError)": (
        single_valued_position, None),
}


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("case", sorted(REGRESSIONS))
def test_fuzz_regressions(reader: Reader, case: str) -> None:
    make, reason = REGRESSIONS[case]
    result = reader.read(make())
    if reason is None:
        assert isinstance(result, Instance)
    else:
        assert isinstance(result, Quarantined) and result.reason == reason, result


def _rle_panic() -> bytes:
    """A damaged RLE segment on which pylibjpeg-rle panics (pyo3's PanicException)."""
    return patched("MR_small_RLE.dcm", [(402, 403, b"Y"), (868, 872, b"\xff\xff\xff\x7f"),
                                        (1896, 1897, b"")])


@pytest.mark.filterwarnings("ignore")
def test_rle_decoder_panic_is_quarantined(reader: Reader) -> None:
    # A Rust panic is a BaseException, not an Exception: fingerprint_location catches it too.
    result = reader.read(_rle_panic())
    assert isinstance(result, Quarantined) and result.reason == "decode-failed", result
    assert "PanicException" in result.detail, "the input no longer makes the decoder panic"


@pytest.mark.filterwarnings("ignore")
def test_crashing_inputs_land_in_quarantine_and_the_run_goes_on(tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "inputs"
    folder.mkdir()
    for n, case in enumerate(sorted(REGRESSIONS)):
        (folder / f"case{n}.dcm").write_bytes(REGRESSIONS[case][0]())
    (folder / "good.dcm").write_bytes(SEEDS["CT_small.dcm"])
    summary = index([folder], Settings(archive=str(tmp_path / "a.duckdb"), workers=1,
                                       publish=False))
    expected = sum(reason is not None for _, reason in REGRESSIONS.values())
    assert (summary.quarantined, summary.instances) == (expected, len(REGRESSIONS) - expected + 1)
