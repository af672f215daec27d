"""A fast, strict reader for the header fields dedup needs.

Parsing the header is the bottleneck of indexing (hashing is not), so the two transfer
syntaxes nearly every archive uses, implicit and explicit VR little endian (including the
compressed syntaxes, which are explicit little endian), are walked here with
``struct.unpack_from`` and no per-element objects. Only the wanted tags are decoded; the
walk stops at Pixel Data and reports where it is. Anything else (big endian, deflated,
files without a preamble) goes through pydicom in :mod:`dedup.ingest.read`.

A file without Pixel Data (a report, a presentation state, an encapsulated document, an
image whose pixels were stripped) is walked to its end. Ending between two elements, it is
complete; ending inside one (its header, its value, a sequence or an item), it is
``truncated``. pydicom does not tell the two apart (it returns a short last value and drops
a partial element header), so a big-endian file and a data set without a preamble are
walked here too, only for that check (:func:`check_complete`), before pydicom reads them.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable
from dataclasses import dataclass
from struct import Struct, unpack_from
from struct import error as _StructError

Buffer = bytes | memoryview | mmap.mmap  # a whole file, read or memory-mapped

_PREAMBLE = 128
_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQ_END = 0xFFFEE0DD
_PIXEL_DATA = 0x7FE00010
_UNDEFINED = 0xFFFFFFFF
_MAX_HEADER_VALUE = 64 * 1024**2  # a longer non-pixel value beyond the end is garbage, not a cut
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN",
                       b"UR", b"UT", b"UV"})

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
NATIVE_SYNTAXES = frozenset({IMPLICIT_LE, EXPLICIT_LE})
_NOT_LE = frozenset({EXPLICIT_BE, "1.2.840.10008.1.2.1.99"})  # big endian, deflated

#: Tags read as text, by keyword.
TEXT_TAGS: dict[int, str] = {
    0x00080005: "SpecificCharacterSet",
    0x00080016: "SOPClassUID",
    0x00080018: "SOPInstanceUID",
    0x00080020: "StudyDate",
    0x00080030: "StudyTime",
    0x00080032: "AcquisitionTime",
    0x00080033: "ContentTime",
    0x00080050: "AccessionNumber",
    0x00080060: "Modality",
    0x00080070: "Manufacturer",
    0x00080080: "InstitutionName",
    0x00080100: "CodeValue",
    0x00080102: "CodingSchemeDesignator",
    0x00081010: "StationName",
    0x00081030: "StudyDescription",
    0x0008103E: "SeriesDescription",
    0x00100010: "PatientName",
    0x00100020: "PatientID",
    0x00100021: "IssuerOfPatientID",
    0x00100030: "PatientBirthDate",
    0x00100040: "PatientSex",
    0x00180015: "BodyPartExamined",
    0x00180050: "SliceThickness",
    0x00180070: "CountsAccumulated",
    0x00181030: "ProtocolName",
    0x00181130: "TableHeight",
    0x00181150: "ExposureTime",
    0x00181151: "XRayTubeCurrent",
    0x00181152: "Exposure",
    0x00181153: "ExposureInuAs",
    0x00181242: "ActualFrameDuration",
    0x00181405: "RelativeXRayExposure",
    0x00181411: "ExposureIndex",
    0x00181413: "DeviationIndex",
    0x0020000D: "StudyInstanceUID",
    0x0020000E: "SeriesInstanceUID",
    0x00200011: "SeriesNumber",
    0x00200013: "InstanceNumber",
    0x00200032: "ImagePositionPatient",
    0x00200037: "ImageOrientationPatient",
    0x00200060: "Laterality",
    0x00200062: "ImageLaterality",
    0x00201041: "SliceLocation",
    0x00209072: "FrameLaterality",
    0x00280004: "PhotometricInterpretation",
    0x00280008: "NumberOfFrames",
    0x00280030: "PixelSpacing",
    0x00282110: "LossyImageCompression",
}
#: Tags read as unsigned shorts (VR US).
US_TAGS: dict[int, str] = {
    0x00280002: "SamplesPerPixel",
    0x00280006: "PlanarConfiguration",
    0x00280010: "Rows",
    0x00280011: "Columns",
    0x00280100: "BitsAllocated",
    0x00280101: "BitsStored",
    0x00280103: "PixelRepresentation",
}
#: Sequences whose first item's text tags are read (prefixed with the sequence keyword).
#: The functional groups are read for their Frame Anatomy (the first frame's, or the shared
#: one), whose Frame Laterality is kept as ``FrameAnatomySequence.FrameLaterality``.
SEQUENCE_TAGS: dict[int, str] = {0x00081032: "ProcedureCodeSequence",
                                 0x52009229: "SharedFunctionalGroupsSequence",
                                 0x52009230: "PerFrameFunctionalGroupsSequence",
                                 0x00209071: "FrameAnatomySequence"}
#: Text tags whose raw bytes are kept, to be decoded with the Specific Character Set.
DECODED_TEXT = frozenset({"PatientName", "InstitutionName", "StudyDescription",
                          "SeriesDescription"})


class ParseError(Exception):
    """The bytes are not a well-formed DICOM file; ``reason`` is a QuarantineReason value."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Unsupported(Exception):
    """The file is valid-looking but needs the general (pydicom) reader."""


@dataclass(slots=True)
class Header:
    """Raw header values plus where the pixel data is."""

    transfer_syntax: str
    values: dict[str, str | int]
    raw_text: dict[str, bytes]  # the top-level values of DECODED_TEXT, as stored
    pixel_offset: int | None = None  # first byte of the value (or of the first item)
    pixel_length: int | None = None  # None when encapsulated (undefined length)


def parse(buf: Buffer) -> Header:
    """Parse a Part 10 file's header up to Pixel Data.

    Args:
        buf: the whole file (bytes, mmap or memoryview).

    Returns:
        The wanted header values and the position of Pixel Data.

    Raises:
        ParseError: not DICOM, truncated or corrupt.
        Unsupported: valid but not a little-endian syntax this reader walks.

    """
    if len(buf) < _PREAMBLE + 4 or bytes(buf[_PREAMBLE:_PREAMBLE + 4]) != b"DICM":
        raise Unsupported("no DICM preamble")
    header = _walk_file(buf, _PREAMBLE + 4, None)
    if header.transfer_syntax in _NOT_LE:
        raise Unsupported(f"transfer syntax {header.transfer_syntax}")
    return header


def check_complete(buf: Buffer, *, explicit: bool, little_endian: bool) -> None:
    """Check that a data set without preamble ends after its last complete element.

    Args:
        buf: the whole file: a data set, with or without a file meta group before it.
        explicit: whether the data set's VRs are explicit (the meta group's always are).
        little_endian: the data set's byte order.

    Raises:
        ParseError: ``truncated`` when the file ends inside an element; ``corrupt`` when
            the elements cannot be walked (pydicom may still read such a file).

    """
    _walk_file(buf, 0, (explicit, little_endian))


def _walk_file(buf: Buffer, pos: int, encoding: tuple[bool, bool] | None) -> Header:
    """Walk the meta group from ``pos``, then the data set.

    ``encoding`` (explicit, little endian) is taken from the meta group's Transfer Syntax UID
    when ``None``; a big-endian data set is walked for its structure only, a deflated one
    not at all.
    """
    header = Header(transfer_syntax="", values={}, raw_text={})
    try:
        pos = _walk(buf, pos, len(buf), True, header, meta=True)
        header.raw_text.pop("TransferSyntaxUID", None)
        ts = str(header.values.pop("TransferSyntaxUID", "")) or EXPLICIT_LE
        header.transfer_syntax = ts
        if encoding is None and ts not in _NOT_LE:
            encoding = (ts != IMPLICIT_LE, True)
        elif encoding is None and ts == EXPLICIT_BE:
            encoding = (True, False)
        if encoding is not None:
            _walk(buf, pos, len(buf), encoding[0], header, meta=False, little=encoding[1])
    except _StructError:  # an element header that runs past the end of the file
        raise ParseError("truncated", "file ends inside an element header") from None
    return header


_TEXT, _DECODED, _SHORT, _SEQ = 0, 1, 2, 3  # _DECODED: text whose raw bytes are kept too
_WANTED: dict[int, tuple[int, str]] = {
    **{t: (_DECODED if n in DECODED_TEXT else _TEXT, n) for t, n in TEXT_TAGS.items()},
    **{t: (_SHORT, n) for t, n in US_TAGS.items()},
    **{t: (_SEQ, n) for t, n in SEQUENCE_TAGS.items()},
    0x00020010: (_TEXT, "TransferSyntaxUID"),
}
#: Explicit VRs with a 2-byte length (the others, :data:`_LONG_VRS`, have a 4-byte one).
_SHORT_VRS = frozenset({b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS",
                        b"LO", b"LT", b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL",
                        b"US"})


@dataclass(frozen=True, slots=True)
class _Order:
    """One byte order's readers, and the tags in the form its readers return them.

    An element's tag is read as one unsigned 32-bit ``key``: in big endian that is
    ``group << 16 | element``, in little endian ``element << 16 | group``. Tags are
    compared in that form, so the hot loop never rebuilds a tag from its two halves.
    """

    head: Callable[[Buffer, int], tuple[int, int, int]]  # key, VR, short length
    item: Callable[[Buffer, int], tuple[int, int]]  # key and length of an item or delimiter
    u32: Callable[[Buffer, int], tuple[int]]
    us: Callable[[Buffer, int], tuple[int]]
    group_shift: int  # the group is ``key >> group_shift & 0xFFFF``
    short_vrs: frozenset[int]  # explicit VRs as the head reads them: 2-byte length
    long_vrs: frozenset[int]  # and 4-byte length
    wanted: dict[int, tuple[int, str]]
    sequences: dict[int, str]
    pixel_data: int
    item_start: int
    item_end: int
    sequence_end: int

    @classmethod
    def of(cls, little: bool) -> _Order:
        """The readers and keys of little- or big-endian data."""
        def key(tag: int) -> int:
            return (tag & 0xFFFF) << 16 | tag >> 16 if little else tag

        sign = "<" if little else ">"
        def vrs(names: frozenset[bytes]) -> frozenset[int]:
            return frozenset(int.from_bytes(vr, "little" if little else "big") for vr in names)

        return cls(head=Struct(sign + "IHH").unpack_from, item=Struct(sign + "II").unpack_from,
                   u32=Struct(sign + "I").unpack_from, us=Struct(sign + "H").unpack_from,
                   group_shift=0 if little else 16, short_vrs=vrs(_SHORT_VRS),
                   long_vrs=vrs(_LONG_VRS),
                   wanted={key(t): what for t, what in _WANTED.items()},
                   sequences={key(t): name for t, name in SEQUENCE_TAGS.items()},
                   pixel_data=key(_PIXEL_DATA), item_start=key(_ITEM), item_end=key(_ITEM_END),
                   sequence_end=key(_SEQ_END))

    def tag_text(self, key: int) -> str:
        """``(GGGG,EEEE)`` of a key, for messages."""
        group, element = key >> self.group_shift & 0xFFFF, key >> (16 - self.group_shift) & 0xFFFF
        return f"({group:04X},{element:04X})"


_LITTLE, _BIG = _Order.of(little=True), _Order.of(little=False)
_NOT_KEPT: dict[int, tuple[int, str]] = {}  # inside items after a sequence's first


def _walk(buf: Buffer, pos: int, end: int, explicit: bool, header: Header,
          *, meta: bool, prefix: str = "", little: bool = True) -> int:
    """Walk elements from ``pos`` to ``end``; return the position after the last one read.

    The hot loop of indexing: one ``unpack_from`` per element, one dict lookup for the tags
    that matter, no objects for the rest. At the top level (``prefix`` empty) it stops at
    Pixel Data; inside a sequence item (``prefix`` set) at the item's delimiter.
    """
    order = _LITTLE if little else _BIG
    head, u32, shift, size = order.head, order.u32, order.group_shift, len(buf)
    short_vrs, long_vrs = order.short_vrs, order.long_vrs
    wanted = _NOT_KEPT if prefix.startswith("\x00") else order.wanted
    pixel_data = -1 if prefix else order.pixel_data
    item_end = order.item_end if prefix else -1
    values, explicit = header.values, explicit or meta
    try:
        while pos < end:
            key, vr, length = head(buf, pos)
            group = key >> shift & 0xFFFF
            if meta and group != 0x0002:
                return pos
            if group == 0xFFFE or not explicit:
                length, start = u32(buf, pos + 4)[0], pos + 8
            elif vr in short_vrs:
                start = pos + 8
            elif vr in long_vrs:
                length, start = u32(buf, pos + 8)[0], pos + 12
            else:
                raise ParseError("corrupt", f"invalid VR bytes at offset {pos}")
            if key == item_end:
                return start
            if key == pixel_data:
                return _pixel_data(header, start, length, size)
            if length == _UNDEFINED:  # nothing is read inside an item that is not kept
                pos = _skip_sequence(buf, start, explicit, header, None if wanted is _NOT_KEPT
                                     else order.sequences.get(key), little=little)
                continue
            pos = start + length
            if pos > size:
                raise _overrun(order.tag_text(key), length, size - start)
            if key not in wanted:
                continue
            kind, name = what = wanted[key]
            if kind > _DECODED:
                _keep(buf, start, length, what, header, explicit, prefix, little)
                continue
            raw = bytes(buf[start:pos])
            values[prefix + name] = raw.rstrip(b"\x00 ").decode("latin-1").strip()
            if kind and not prefix:
                header.raw_text[name] = raw
    except _StructError:
        if pos + 8 > size:
            raise ParseError("truncated", f"file ends inside an element header at offset {pos}"
                             ) from None
        raise
    return pos


def _overrun(tag: str, length: int, left: int) -> ParseError:
    """An element longer than what is left of the file: cut, or a garbage length."""
    reason = "corrupt" if length > _MAX_HEADER_VALUE else "truncated"
    return ParseError(reason, f"element {tag} needs {length} bytes, file has {left}")


def _pixel_data(header: Header, start: int, length: int, size: int) -> int:
    header.pixel_offset = start
    header.pixel_length = None if length == _UNDEFINED else length
    if length != _UNDEFINED and start + length > size:
        raise ParseError("truncated", f"pixel data needs {length} bytes, file has {size - start}")
    return size


def _keep(buf: Buffer, start: int, length: int, what: tuple[int, str],
          header: Header, explicit: bool, prefix: str, little: bool) -> None:
    """Keep an unsigned short, or read a wanted sequence's first item."""
    kind, name = what
    if kind == _SHORT and length >= 2 and not prefix:
        header.values[name] = (_LITTLE if little else _BIG).us(buf, start)[0]
    elif kind == _SEQ and length:
        _skip_sequence(buf, start, explicit, header, name, start + length, little=little)


def _skip_sequence(buf: Buffer, pos: int, explicit: bool, header: Header,
                   wanted: str | None, end: int | None = None, *, little: bool = True) -> int:
    """Step over a sequence's items; read the first item's text tags when ``wanted``."""
    order = _LITTLE if little else _BIG
    size, item_head = len(buf), order.item
    first = True
    limit = size if end is None else end
    while pos < limit:
        if pos + 8 > size:
            raise ParseError("truncated", f"file ends inside a sequence at offset {pos}")
        key, length = item_head(buf, pos)
        pos += 8
        if key == order.sequence_end:
            return pos
        if key != order.item_start:
            raise ParseError("corrupt", f"expected a sequence item at offset {pos - 8}")
        prefix = f"{wanted}." if wanted and first else "\x00"
        item_end = size if length == _UNDEFINED else pos + length
        if length != _UNDEFINED and item_end > size:
            reason = "corrupt" if length > _MAX_HEADER_VALUE else "truncated"
            raise ParseError(reason, f"sequence item overruns the file at offset {pos}")
        pos = _walk(buf, pos, item_end, explicit, header, meta=False, prefix=prefix,
                    little=little)
        if length != _UNDEFINED:
            pos = item_end
        if end is not None and wanted:
            return end  # a sequence of known length: its first item was all that was wanted
        first = False
    if end is None:
        raise ParseError("truncated", "file ends inside an undefined-length sequence")
    return end


def encapsulated_frames(buf: Buffer, pos: int) -> list[memoryview]:
    """Return the fragments of encapsulated Pixel Data (after the offset table).

    Raises:
        ParseError: the item structure is broken or truncated.

    """
    view, size, first = memoryview(buf), len(buf), True
    fragments: list[memoryview] = []
    while True:
        if pos + 8 > size:
            raise ParseError("truncated", "file ends inside encapsulated pixel data")
        group, elem, length = unpack_from("<HHI", buf, pos)
        tag = group << 16 | elem
        pos += 8
        if tag == _SEQ_END:
            return fragments
        if tag != _ITEM or pos + length > size:
            raise ParseError("truncated" if pos + length > size else "corrupt",
                             "broken encapsulated pixel data fragment")
        if not first:
            fragments.append(view[pos:pos + length])
        first = False
        pos += length
