"""The content hash of an object without Pixel Data.

Structured reports, key object selections, presentation states, dose reports and encapsulated
documents carry no pixels to hash, and an image whose Pixel Data was stripped has none left.
What makes two of them the same object is their content: the report tree, the display
settings, the document bytes. A copy made by a router, a re-send or a de-identifier keeps
that content but gives it new UIDs, another patient identity and shifted dates, so the hash
covers every element except:

* UIDs (VR UI): the object's own, its study's and series', and the references to other
  instances, which a re-identified study renumbers consistently;
* person names (VR PN) and the identity attributes of :data:`IDENTITY_KEYWORDS` (patient,
  physicians, operators, institution, device, accession, descriptions that de-identification
  profiles remove);
* dates and times (VR DA, DT, TM) and the time zone offset;
* the file meta group (0002), group lengths, private elements, the de-identification
  attributes (group 0012), digital signatures and trailing padding;
* empty elements and empty sequences (a de-identifier empties or removes them alike);
* the Specific Character Set: text is hashed decoded, so a copy converted to UTF-8 still
  matches.

The walk recurses into sequence items, so a date or a UID inside the content tree of a report
is left out too. Values are hashed as what they mean, not as the bytes of one encoding: text
decoded and stripped of padding, numbers as numbers, binary values (an encapsulated PDF, a
waveform) as their little-endian bytes, so implicit, explicit, big-endian and deflated copies
hash the same. Every element is written as tag, length and value, and every sequence item
between markers, so no two different contents make the same byte stream.

The digest is 16 bytes, as wide as a pixel hash (:func:`dedup.fingerprint.pixels.pixel_hash`),
and stored in the same column; the stream opens with :data:`DOMAIN` and the SOP Class UID,
which no pixel hash's stream (it opens with the image format, ``"{rows}x{columns}..."``) can
start with, so an object can never share a hash with an image.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import xxhash
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag

#: Opens every content hash stream: the domain and version of the normalisation.
DOMAIN = b"dedup:object-content:v1\x00"

#: Attributes that identify the patient, the people, the place and the request: a copy made
#: by a de-identifier or another site changes them while the content stays the same.
IDENTITY_KEYWORDS = (
    # patient
    "PatientID", "IssuerOfPatientID", "IssuerOfPatientIDQualifiersSequence",
    "OtherPatientIDs", "OtherPatientIDsSequence", "PatientSex", "PatientAge", "PatientSize",
    "PatientWeight", "PatientAddress", "PatientTelephoneNumbers", "MedicalRecordLocator",
    "EthnicGroup", "Occupation", "AdditionalPatientHistory", "PatientComments",
    "PatientIdentityRemoved", "ResponsiblePerson", "ResponsibleOrganization",
    # study, request and people
    "AccessionNumber", "IssuerOfAccessionNumberSequence", "StudyID", "StudyDescription",
    "SeriesDescription", "RequestingService", "RequestAttributesSequence",
    "ReferringPhysicianAddress", "ReferringPhysicianTelephoneNumbers",
    "ReferringPhysicianIdentificationSequence", "PhysiciansOfRecordIdentificationSequence",
    "PerformingPhysicianIdentificationSequence",
    "PhysiciansReadingStudyIdentificationSequence", "OperatorIdentificationSequence",
    "VerifyingOrganization", "ReferencedPatientSequence",
    # institution and device
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName",
    "InstitutionCodeSequence", "StationName", "DeviceSerialNumber",
    # dates that are not of VR DA/DT/TM, and the record of what was changed
    "TimezoneOffsetFromUTC", "LongitudinalTemporalInformationModified",
    "OriginalAttributesSequence", "SpecificCharacterSet", "LengthToEnd",
)
_SKIPPED_TAGS = frozenset(int(tag_for_keyword(k) or 0) for k in IDENTITY_KEYWORDS)
_SKIPPED_VRS = frozenset({"UI", "PN", "DA", "DT", "TM"})
_SKIPPED_GROUPS = frozenset({0x0002, 0x0012, 0xFFFA, 0xFFFC})  # meta, de-identification,
#                                                              signatures, trailing padding
_TEXT_VRS = frozenset({"AE", "AS", "CS", "DS", "IS", "LO", "LT", "SH", "ST", "UC", "UR", "UT"})
_WORD_BYTES = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}  # swapped from big endian
_ELEMENT = struct.Struct("<IQ")  # tag, value length
_ITEM, _ITEM_END = _ELEMENT.pack(0xFFFEE000, 0), _ELEMENT.pack(0xFFFEE00D, 0)


def content_hash(ds: Dataset) -> bytes:
    """Return the 128-bit xxh3 hash of a data set's normalised content.

    Args:
        ds: the data set, as pydicom reads it (the file meta, if any, is not hashed).

    Returns:
        16 bytes: equal for copies that differ only in UIDs, identity, dates and encoding.

    Raises:
        Exception: whatever pydicom raises when it converts a damaged element of ``ds``
            (a bad length, an unknown VR, text it cannot decode).

    """
    encoding = ds.original_encoding
    big_endian = encoding[1] is False
    digest = xxhash.xxh3_128(DOMAIN)
    sop_class = str(ds.get("SOPClassUID", "")).encode()
    digest.update(_ELEMENT.pack(0x00080016, len(sop_class)) + sop_class)
    for chunk in _stream(ds, big_endian):
        digest.update(chunk)
    return digest.digest()


def _stream(ds: Dataset, big_endian: bool) -> Iterable[bytes]:
    """Yield the byte stream of the kept elements of ``ds``, recursively, in tag order.

    Elements are skipped before pydicom converts their values (the costly part) when the
    tag or the stored VR already says so.
    """
    for tag in sorted(ds.keys()):
        if _skipped(BaseTag(tag), ds.get_item(tag).VR):
            continue
        element = ds[tag]
        if element.VR in _SKIPPED_VRS:  # the VR pydicom found (implicit VR, ambiguous VR)
            continue
        if element.VR == "SQ":
            items = [item for item in element.value if item is not None]
            if not items:
                continue
            yield _ELEMENT.pack(element.tag, len(items))
            for item in items:
                yield _ITEM
                yield from _stream(item, big_endian)
                yield _ITEM_END
            continue
        value = _value_bytes(element, big_endian)
        if value:
            yield _ELEMENT.pack(element.tag, len(value))
            yield value


def _skipped(tag: BaseTag, vr: str | None) -> bool:
    return (tag.is_private or tag.element == 0 or tag.group in _SKIPPED_GROUPS
            or vr in _SKIPPED_VRS or tag in _SKIPPED_TAGS)


def _value_bytes(element: DataElement, big_endian: bool) -> bytes:
    """An element's value as encoding-independent bytes (empty when it has none)."""
    value = element.value
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        width = _WORD_BYTES.get(element.VR, 1)
        return _little_endian(bytes(value), width) if big_endian and width > 1 else bytes(value)
    values = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    if element.VR in _TEXT_VRS:
        parts = [str(v).strip() for v in values]
        return "\\".join(parts).encode("utf-8") if any(parts) else b""
    return "\\".join(repr(v) for v in values).encode("utf-8")  # numbers, tags (AT)


def _little_endian(raw: bytes, width: int) -> bytes:
    """Swap words of ``width`` bytes from big to little endian (a trailing partial word kept)."""
    whole = len(raw) - len(raw) % width
    swapped = bytearray(raw)
    for offset in range(width):
        swapped[offset:whole:width] = raw[width - 1 - offset:whole:width]
    return bytes(swapped)
