"""dedup.ingest.read: one input (file or zip member) to header values, or a quarantine reason."""

from __future__ import annotations

import mmap
import os
import shutil
import subprocess
import threading
import time
import zipfile
from pathlib import Path

import pytest
from pydicom import dcmread

from dedup.config import Settings
from dedup.ingest.read import DicomFile, read_location, readahead
from dedup.records import Location, Quarantined, QuarantineReason
from dedup.synth import write_bad_inputs
from tests.conftest import shipped, synthetic_study
from tests.ingest.test_parse import dcmodify, knee_image

#: Shipped files by the path they take: our parser (False) or pydicom's reader (True).
SHIPPED = {"CT_small.dcm": False, "MR_small_implicit.dcm": False, "SC_rgb_rle.dcm": False,
           "MR_small_bigendian.dcm": True, "image_dfl.dcm": True}
KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID",
            "Modality", "PatientID", "PatientName", "StudyDate")


def read(path: Path, member: str | None = None, **settings: int) -> DicomFile | Quarantined:
    return read_location(Location(str(path), member), Settings(**settings))  # type: ignore[arg-type]


def read_ok(path: Path, member: str | None = None, **settings: int) -> DicomFile:
    result = read(path, member, **settings)
    assert isinstance(result, DicomFile), result
    return result


def quarantined(path: Path, member: str | None = None) -> Quarantined:
    result = read(path, member)
    assert isinstance(result, Quarantined), result
    return result


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_bad_inputs(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_files_read_as_pydicom_reads_them(name: str) -> None:
    path = shipped(name)
    dicom = read_ok(path)
    ds = dcmread(path)
    for keyword in KEYWORDS:
        assert dicom.text(keyword) == str(ds.get(keyword, "")), keyword
    assert (dicom.number("Rows"), dicom.number("Columns")) == (ds.Rows, ds.Columns)
    assert dicom.header.transfer_syntax == ds.file_meta.TransferSyntaxUID
    assert (dicom.dataset is not None) is SHIPPED[name]


def test_generated_values_and_decoded_names(tmp_path: Path) -> None:
    # Klinikum Nord writes Implicit VR and UTF-8 names (Specific Character Set ISO_IR 192)
    files = synthetic_study(tmp_path, seed=4, name="Müller^Jürgen",
                            institution="Klinikum Nord")
    for path in files:
        dicom = read_ok(path)
        ds = dcmread(path)
        assert ds.SpecificCharacterSet == "ISO_IR 192"
        assert dicom.text("PatientName") == "Müller^Jürgen"
        for keyword in (*KEYWORDS, "InstitutionName", "StudyDescription", "SeriesDescription",
                        "AccessionNumber", "PatientBirthDate"):
            assert dicom.text(keyword) == str(ds.get(keyword, "")), keyword
        assert dicom.number("InstanceNumber") == ds.InstanceNumber
        assert dicom.number("NoSuchKeyword", default=-1) == -1
    assert len({read_ok(p).text("SOPInstanceUID") for p in files}) == len(files)


def test_file_hash_is_of_the_bytes_not_the_path(tmp_path: Path) -> None:
    first, second = synthetic_study(tmp_path / "study", seed=1)[:2]
    copy = tmp_path / "copy.dcm"
    shutil.copy(first, copy)
    changed = tmp_path / "changed.dcm"
    data = bytearray(first.read_bytes())
    data[0] ^= 1  # one bit of the preamble: same DICOM content, other bytes
    changed.write_bytes(bytes(data))
    assert read_ok(copy).file_hash == read_ok(first).file_hash
    assert read_ok(changed).file_hash != read_ok(first).file_hash
    assert read_ok(second).file_hash != read_ok(first).file_hash
    assert read_ok(changed).text("SOPInstanceUID") == read_ok(first).text("SOPInstanceUID")


def test_large_files_are_memory_mapped_with_the_same_result() -> None:
    path = shipped("CT_small.dcm")
    whole, mapped = read_ok(path), read_ok(path, mmap_threshold=1)
    assert isinstance(mapped.data, mmap.mmap) and isinstance(whole.data, bytes)
    assert mapped.file_hash == whole.file_hash
    assert mapped.header.values == whole.header.values


@pytest.mark.parametrize("reason", ["not-dicom", "truncated", "missing-uid", "corrupt"])
def test_broken_files_are_quarantined_with_their_reason(bad: dict[str, Path],
                                                        reason: str) -> None:
    result = quarantined(bad[reason])
    assert result.reason == QuarantineReason(reason), result
    assert result.location.path == str(bad[reason])


def test_missing_uid_names_the_missing_uids(bad: dict[str, Path]) -> None:
    assert quarantined(bad["missing-uid"]).detail == "missing StudyInstanceUID, SOPInstanceUID"


def test_empty_and_absent_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.dcm"
    empty.write_bytes(b"")
    assert quarantined(empty).reason == QuarantineReason.NOT_DICOM
    absent = quarantined(tmp_path / "gone.dcm")
    assert (absent.reason, absent.detail) == (QuarantineReason.UNREADABLE,
                                              "No such file or directory")


def test_zip_members_read_like_the_files(tmp_path: Path) -> None:
    files = synthetic_study(tmp_path / "study", seed=2)
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, path in enumerate(files):
            zf.write(path, f"member{n}.dcm")
    for n, path in enumerate(files):
        member, plain = read_ok(archive, f"member{n}.dcm"), read_ok(path)
        assert member.file_hash == plain.file_hash
        assert member.header.values == plain.header.values
    missing = quarantined(archive, "not-there.dcm")
    assert missing.reason == QuarantineReason.BAD_ZIP


def test_zip_bomb_member_is_not_extracted(bad: dict[str, Path]) -> None:
    result = quarantined(bad["zip-bomb"], "scan.dcm")
    assert result.reason == QuarantineReason.ZIP_BOMB
    assert result.detail.startswith("declares 2164260864 bytes")


def test_only_regular_files_within_the_size_limit_are_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.dcm"
    os.mkfifo(fifo)  # a walk never hands one on; one that appears after the walk is refused
    for path in (fifo, Path("/dev/zero")):
        assert (quarantined(path).reason, quarantined(path).detail) == (
            QuarantineReason.NOT_A_FILE, "not a regular file; not read")
    small = shipped("CT_small.dcm")
    size = small.stat().st_size
    too_big = read(small, max_file_bytes=size - 1)
    assert isinstance(too_big, Quarantined) and too_big.reason == QuarantineReason.TOO_LARGE
    assert too_big.detail == f"{size} bytes, more than max_file_bytes ({size - 1}); not read"
    read_ok(small, max_file_bytes=size)


def resident_bytes(path: Path) -> int:
    """Bytes of ``path`` in the page cache, as util-linux ``fincore`` counts them."""
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip())


@pytest.mark.skipif(shutil.which("fincore") is None, reason="util-linux fincore not installed")
def test_readahead_brings_files_into_the_page_cache(tmp_path: Path) -> None:
    path = tmp_path / "big.dcm"
    path.write_bytes(os.urandom(8 * 1024**2))
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    if resident_bytes(path) > 1024**2:
        pytest.skip("this file system keeps the file cached (tmpfs?)")
    readahead([Location(str(path))])
    deadline = time.monotonic() + 10
    while resident_bytes(path) < path.stat().st_size and time.monotonic() < deadline:
        time.sleep(0.05)
    assert resident_bytes(path) == path.stat().st_size


def test_readahead_passes_over_what_it_cannot_or_must_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.dcm"
    os.mkfifo(fifo)  # opened for reading, it would wait for a writer
    (tmp_path / "folder").mkdir()
    zipped = tmp_path / "study.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("a.dcm", b"x")
    locations = [Location(str(fifo)), Location(str(tmp_path / "folder")),
                 Location(str(tmp_path / "gone.dcm")), Location(str(zipped), "a.dcm")]
    worker = threading.Thread(target=readahead, args=(locations,), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive()


def test_a_file_is_read_to_its_end(tmp_path: Path) -> None:
    path = shipped("CT_small.dcm")
    for threshold in (1, 2**40):  # memory-mapped, read
        dicom = read_ok(path, mmap_threshold=threshold)
        assert bytes(dicom.data) == path.read_bytes()


@pytest.mark.skipif(shutil.which("dcmodify") is None, reason="make test installs DCMTK")
def test_laterality_tags_read_the_same_by_either_path(tmp_path: Path) -> None:
    """Big endian (made by DCMTK's dcmconv) goes through pydicom: the same values come out."""
    image = knee_image(tmp_path / "little.dcm", "1.2.826.0.1.3680043.8.498.77", "XR KNEE", 3)
    dcmodify(image, "-i", "(0020,0062)=R", "-i", "(5200,9229)[0].(0020,9071)[0].(0020,9072)=R")
    big = tmp_path / "big.dcm"
    subprocess.run(["dcmconv", "+tb", str(image), str(big)], check=True)
    keys = ("ImageLaterality", "FrameAnatomySequence.FrameLaterality")
    fast, general = read_ok(image), read_ok(big)
    assert general.dataset is not None and fast.dataset is None  # the two paths
    assert [fast.text(k) for k in keys] == [general.text(k) for k in keys] == ["R", "R"]
