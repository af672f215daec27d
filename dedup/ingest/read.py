"""Read one input (file or zip member) into a :class:`DicomFile`, or say why it cannot be."""

from __future__ import annotations

import contextlib
import mmap
import os
import stat
import zipfile
from collections.abc import Iterable, MutableSequence
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO

import xxhash
from pydicom import dcmread
from pydicom.charset import convert_encodings, decode_bytes
from pydicom.dataset import Dataset

from dedup.config import Settings
from dedup.ingest.parse import (
    DECODED_TEXT,
    SEQUENCE_TAGS,
    TEXT_TAGS,
    US_TAGS,
    Header,
    ParseError,
    Unsupported,
    check_complete,
    parse,
)
from dedup.records import Location, Quarantined, QuarantineReason

_REQUIRED_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
_DEFLATED = "1.2.840.10008.1.2.1.99"
READAHEAD_BYTES = 16 * 1024**2  # of one file, asked for ahead of its read


@dataclass(slots=True)
class DicomFile:
    """A parsed input: its bytes, content hash, header values and pixel data position."""

    location: Location
    data: bytes | mmap.mmap
    file_hash: bytes
    header: Header
    dataset: Dataset | None = None  # set when pydicom had to read it

    def text(self, name: str) -> str:
        """Return a header value as text ('' when absent)."""
        value = self.header.values.get(name, "")
        return value if isinstance(value, str) else str(value)

    def number(self, name: str, default: int = 0) -> int:
        """Return a header value as an int (``default`` when absent or not a number)."""
        value = self.header.values.get(name)
        if isinstance(value, int):
            return value
        try:
            return int(float(str(value).split("\\")[0]))
        except (TypeError, ValueError):
            return default


def read_location(location: Location, settings: Settings) -> DicomFile | Quarantined:
    """Read and parse ``location``; never raises for bad input.

    Args:
        location: a plain file or a zip member.
        settings: limits for zip extraction and memory mapping.

    Returns:
        The parsed file, or the reason it goes to quarantine.

    """
    try:
        data = _load(location, settings)
    except _Reject as reject:
        return Quarantined(location, reject.reason, reject.detail)
    except PermissionError:
        return Quarantined(location, QuarantineReason.UNREADABLE, "permission denied")
    except OSError as exc:
        detail = exc.strerror or type(exc).__name__
        return Quarantined(location, QuarantineReason.UNREADABLE, detail)
    file_hash = xxhash.xxh3_128_digest(data)
    try:
        dicom = DicomFile(location, data, file_hash, parse(data))
    except ParseError as exc:
        if exc.reason != QuarantineReason.CORRUPT:
            return Quarantined(location, QuarantineReason(exc.reason), exc.detail)
        general = _read_general(location, data, file_hash)  # pydicom is more lenient
        if isinstance(general, Quarantined) or any(not general.text(u) for u in _REQUIRED_UIDS):
            return Quarantined(location, QuarantineReason.CORRUPT, exc.detail)
        dicom = general
    except Unsupported:
        general = _read_general(location, data, file_hash)
        if isinstance(general, Quarantined):
            return general
        dicom = general
    missing = [uid for uid in _REQUIRED_UIDS if not dicom.text(uid)]
    if missing:
        return Quarantined(location, QuarantineReason.MISSING_UID, "missing " + ", ".join(missing))
    _decode_charset(dicom.header)
    return dicom


def readahead(locations: Iterable[Location]) -> None:
    """Start reading plain files into the page cache; they are read whole soon after.

    A hint (``posix_fadvise(WILLNEED)``): the kernel queues the reads and returns, so the
    disk has many reads in flight while the workers parse, which is what a cold backfill
    waits for. Zip members, other file types and any error are passed over silently (the
    read itself reports errors). At most :data:`READAHEAD_BYTES` per file.
    """
    if not hasattr(os, "posix_fadvise"):
        return
    for location in locations:
        if location.member is not None:
            continue
        try:
            if not stat.S_ISREG(os.stat(location.path).st_mode):
                continue
            fd = os.open(location.path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            continue
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, 0, READAHEAD_BYTES, os.POSIX_FADV_WILLNEED)
        os.close(fd)


class _Reject(Exception):
    def __init__(self, reason: QuarantineReason, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _load(location: Location, settings: Settings) -> bytes | mmap.mmap:
    if location.member is not None:
        return _read_member(location, settings)
    fd = os.open(location.path, _OPEN_FLAGS | os.O_CLOEXEC)
    try:
        size = _regular_size(os.fstat(fd), settings)
        if size and size >= settings.mmap_threshold:
            return mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        return _read_to_end(fd, size)
    finally:
        os.close(fd)


def _read_to_end(fd: int, size: int) -> bytes:
    """The file's bytes: one read of the size ``fstat`` gave, more if it has grown since."""
    chunks = [os.read(fd, size + 1)]
    while chunks[-1]:
        chunks.append(os.read(fd, 1 << 20))
    return chunks[0] if len(chunks) <= 2 else b"".join(chunks)


#: Opening never waits (on a FIFO a writer never opens) nor takes a controlling terminal.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


def _regular_size(st: os.stat_result, settings: Settings) -> int:
    """The size of an opened input, which must be a regular file within ``max_file_bytes``."""
    if not stat.S_ISREG(st.st_mode):
        raise _Reject(QuarantineReason.NOT_A_FILE, "not a regular file; not read")
    if st.st_size > settings.max_file_bytes:
        raise _Reject(QuarantineReason.TOO_LARGE, f"{st.st_size} bytes, more than "
                      f"max_file_bytes ({settings.max_file_bytes}); not read")
    return st.st_size


@lru_cache(maxsize=2)
def _open_zip(path: str, mtime: float) -> zipfile.ZipFile:
    return zipfile.ZipFile(path)


def _read_member(location: Location, settings: Settings) -> bytes:
    """Extract one zip member with bounded size and compression ratio."""
    assert location.member is not None
    try:
        archive = _open_zip(location.path, location.mtime)
        info = archive.getinfo(location.member)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise _Reject(QuarantineReason.BAD_ZIP, f"cannot open zip member: {exc}") from None
    limit = settings.zip_member_max_bytes
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > limit or ratio > settings.zip_max_ratio:
        raise _Reject(QuarantineReason.ZIP_BOMB, f"declares {info.file_size} bytes from "
                      f"{info.compress_size} (ratio {ratio:.0f}, limits {limit} bytes, "
                      f"{settings.zip_max_ratio}:1); not extracted")
    try:
        with archive.open(info) as member:
            data = member.read(info.file_size + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise _Reject(QuarantineReason.BAD_ZIP, f"zip member unreadable: {exc}") from None
    if len(data) > info.file_size:
        raise _Reject(QuarantineReason.ZIP_BOMB, "member inflates beyond its declared size")
    return data


def _read_general(location: Location, data: bytes | mmap.mmap,
                  file_hash: bytes) -> DicomFile | Quarantined:
    """Read with pydicom: other transfer syntaxes and files without a preamble."""
    has_preamble = bytes(data[128:132]) == b"DICM"
    if not has_preamble and not _looks_like_raw_dataset(data):
        return Quarantined(location, QuarantineReason.NOT_DICOM, "no DICOM preamble or dataset")
    try:
        ds = dcmread(BytesIO(bytes(data)), force=not has_preamble)
        ds.PixelData if "PixelData" in ds else None  # noqa: B018 - force the lazy read
    except Exception as exc:  # pydicom raises many types for broken files
        reason = QuarantineReason.TRUNCATED if isinstance(exc, EOFError) else \
            QuarantineReason.CORRUPT
        return Quarantined(location, reason, f"pydicom: {type(exc).__name__}")
    try:
        values = _dataset_values(ds)
    except Exception as exc:  # values are converted lazily: a bad VR or length raises here
        return Quarantined(location, QuarantineReason.CORRUPT, f"pydicom: {type(exc).__name__}")
    ts = str(ds.file_meta.get("TransferSyntaxUID", "1.2.840.10008.1.2"))
    if not has_preamble and ts != _DEFLATED:  # pydicom reads a cut file without a word
        cut = _ends_inside_an_element(data, ds)
        if cut:
            return Quarantined(location, QuarantineReason.TRUNCATED, cut)
    header = Header(transfer_syntax=ts, values=values, raw_text={})
    return DicomFile(location, data, file_hash, header, dataset=ds)


def _dataset_values(ds: Dataset) -> dict[str, str | int]:
    values: dict[str, str | int] = {}
    for keyword in (*TEXT_TAGS.values(), *US_TAGS.values()):
        if keyword in ds and ds[keyword].value not in (None, ""):
            value = ds[keyword].value
            values[keyword] = value if isinstance(value, int) else "\\".join(
                str(v) for v in value) if isinstance(value, MutableSequence) else str(value)
    for keyword in SEQUENCE_TAGS.values():
        if keyword in ds and len(ds[keyword].value):
            item = ds[keyword].value[0]
            for sub in ("CodeValue", "CodingSchemeDesignator"):
                if sub in item:
                    values[f"{keyword}.{sub}"] = str(item[sub].value)
    for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        anatomy = ds[groups].value[0].get("FrameAnatomySequence") if ds.get(groups) else None
        if anatomy and anatomy[0].get("FrameLaterality"):  # as the fast parser keeps it
            values["FrameAnatomySequence.FrameLaterality"] = str(anatomy[0].FrameLaterality)
    return values


def _ends_inside_an_element(data: bytes | mmap.mmap, ds: Dataset) -> str:
    """Why a data set without preamble is cut ('' when it ends after a complete element)."""
    implicit, little = ds.original_encoding
    try:
        check_complete(data, explicit=not implicit, little_endian=little is not False)
    except ParseError as exc:
        return exc.detail if exc.reason == QuarantineReason.TRUNCATED else ""
    return ""


def _looks_like_raw_dataset(data: bytes | mmap.mmap) -> bool:
    """A dataset without preamble starts with a small group, e.g. (0008,0005)."""
    return len(data) >= 8 and data[0] in (0x02, 0x08) and data[1] == 0 and data[3] == 0


def _decode_charset(header: Header) -> None:
    """Decode PN/LO text with the file's Specific Character Set (default: latin-1)."""
    charset = str(header.values.get("SpecificCharacterSet", ""))
    if not charset or not header.raw_text:
        return
    try:
        encodings = convert_encodings(charset.split("\\"))
    except (ValueError, LookupError):  # a damaged charset value: keep the latin-1 text
        return
    for name in DECODED_TEXT:
        raw = header.raw_text.get(name)
        if raw:
            header.values[name] = decode_bytes(raw.rstrip(b"\x00 "), encodings, {0x5E, 0x3D})
