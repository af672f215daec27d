"""Fingerprint one parsed file into an :class:`~dedup.records.Instance`."""

from __future__ import annotations

import os
import select
import threading
import time
from dataclasses import fields
from io import BytesIO
from operator import attrgetter

import numpy as np
from pydicom import dcmread
from pydicom.pixels import apply_color_lut

from dedup.config import Settings
from dedup.fingerprint.content import content_hash
from dedup.fingerprint.detail import acquisition
from dedup.fingerprint.exposure import exposure_record, lossy_code
from dedup.fingerprint.pixels import (
    PixelFormat,
    PixelLengthError,
    canonical,
    is_constant,
    native_pixels,
    pixel_hash,
)
from dedup.fingerprint.tokens import header_tokens
from dedup.ingest.laterality import tag_laterality
from dedup.ingest.parse import NATIVE_SYNTAXES, ParseError, encapsulated_frames
from dedup.ingest.read import DicomFile, read_location
from dedup.records import Instance, Location, Quarantined, QuarantineReason

_FLOAT_PIXELS = frozenset({0x7FE00008, 0x7FE00009})  # Float and Double Float Pixel Data


def fingerprint_location(location: Location, settings: Settings) -> Instance | Quarantined:
    """Read, parse and fingerprint one input. Never raises for bad input.

    This is what worker processes run; it needs no archive.
    """
    try:
        dicom = read_location(location, settings)
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # read_location already handles every known failure
        return Quarantined(location, QuarantineReason.CORRUPT,
                           f"unexpected {type(exc).__name__} while reading")
    if isinstance(dicom, Quarantined):
        return dicom
    try:
        return fingerprint(dicom)
    except PixelLengthError as exc:
        return Quarantined(location, QuarantineReason.PIXEL_LENGTH, str(exc))
    except ParseError as exc:
        return Quarantined(location, QuarantineReason(exc.reason), exc.detail)
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # decoders fail on damaged data in any way,
        # even with a Rust panic (pyo3's PanicException is a BaseException): quarantine it
        return Quarantined(location, QuarantineReason.DECODE_FAILED,
                           f"pixel data could not be decoded ({type(exc).__name__})")


def die_with(pid: int) -> None:
    """Worker initializer: exit as soon as process ``pid`` (the indexing run) is gone.

    A run killed with SIGKILL cannot stop its workers, and they would wait for work for
    ever, keeping the fork server and the resource tracker alive too. A thread waits on a
    pidfd of the run (Linux 5.3 and later; elsewhere it polls once a second) and ends the
    worker when the run ends, however it ends.
    """
    def wait() -> None:
        try:
            fd = os.pidfd_open(pid)
            select.select([fd], [], [])
        except (AttributeError, OSError):  # no pidfd here: poll
            while _alive(pid):
                time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=wait, name="dedup-die-with-run", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: A result as plain values, for the way back from a worker: (0, location, the Instance's
#: other fields in order) or (1, location, (reason, detail)).
Packed = tuple[int, tuple[str, str | None, int, float], tuple[object, ...]]
_LOCATION = attrgetter("path", "member", "size", "mtime")
_INSTANCE = attrgetter(*(f.name for f in fields(Instance) if f.name != "location"))


def fingerprint_many(locations: list[Location], settings: Settings) -> list[Packed]:
    """Fingerprint several inputs: one worker task (this module stays light to import).

    The results go back packed (:func:`unpack` restores them): a dataclass with slots
    pickles field by field through ``dataclasses.fields``, which costs the worker and the
    parent twice what plain tuples do.
    """
    return [_pack(fingerprint_location(location, settings)) for location in locations]


def _pack(result: Instance | Quarantined) -> Packed:
    if isinstance(result, Instance):
        return 0, _LOCATION(result.location), _INSTANCE(result)
    return 1, _LOCATION(result.location), (result.reason.value, result.detail)


def unpack(packed: Packed) -> Instance | Quarantined:
    """The result :func:`fingerprint_many` packed."""
    kind, location, values = packed
    if kind == 0:
        return Instance(Location(*location), *values)  # type: ignore[arg-type]
    reason, detail = values
    return Quarantined(Location(*location), QuarantineReason(str(reason)), str(detail))


def pixel_format(dicom: DicomFile) -> PixelFormat:
    """The pixel format the header declares."""
    return PixelFormat(
        rows=dicom.number("Rows"),
        columns=dicom.number("Columns"),
        frames=max(dicom.number("NumberOfFrames", 1), 1),
        samples=max(dicom.number("SamplesPerPixel", 1), 1),
        bits_allocated=dicom.number("BitsAllocated", 16),
        pixel_representation=dicom.number("PixelRepresentation"),
        planar_configuration=dicom.number("PlanarConfiguration"),
    )


def canonical_pixels(dicom: DicomFile, fmt: PixelFormat) -> np.ndarray | None:
    """The canonical pixel array, decoding only when the stored form is not canonical.

    ``None`` for a file without Pixel Data (a report, a presentation state, a document, an
    image whose pixels were stripped): it ends after its last complete element, since a file
    that ends inside one was quarantined as ``truncated`` when it was parsed.

    Raises:
        PixelLengthError: native pixel data of the wrong length.
        ParseError: encapsulated pixel data that is truncated or broken.

    """
    header = dicom.header
    if dicom.dataset is None and header.pixel_offset is None:
        return None  # the parser read every element to the end: an object without pixels
    subsampled = dicom.text("PhotometricInterpretation").startswith("YBR_FULL_422")
    if dicom.dataset is None and header.transfer_syntax in NATIVE_SYNTAXES and not subsampled:
        assert header.pixel_offset is not None and header.pixel_length is not None
        start = header.pixel_offset
        return native_pixels(fmt, memoryview(dicom.data)[start:start + header.pixel_length])
    if dicom.dataset is None and header.transfer_syntax not in NATIVE_SYNTAXES:
        assert header.pixel_offset is not None
        encapsulated_frames(dicom.data, header.pixel_offset)  # structure check: truncation
    ds = dicom.dataset if dicom.dataset is not None else dcmread(BytesIO(bytes(dicom.data)))
    if "PixelData" not in ds:
        return None
    if ds.file_meta.TransferSyntaxUID.is_encapsulated:
        return canonical(fmt, ds.pixel_array)
    if subsampled:
        return canonical(fmt, ds.pixel_array)
    raw = ds.PixelData
    if ds.file_meta.TransferSyntaxUID.is_little_endian:
        return native_pixels(fmt, raw)
    native_pixels(fmt, raw)  # length check, then let pydicom swap the bytes
    return canonical(fmt, ds.pixel_array)


def _displayed(dicom: DicomFile, pixels: np.ndarray) -> np.ndarray:
    """What the acquisition signature compares: the colours a palette image shows.

    A copy of a PALETTE COLOR image is often stored as RGB (DCMTK's lossy JPEG converts it),
    so the indices alone would compare a copy with its source as different images. The
    pixel hash stays on the stored values.
    """
    if dicom.text("PhotometricInterpretation") != "PALETTE COLOR":
        return pixels
    ds = dicom.dataset if dicom.dataset is not None else dcmread(BytesIO(bytes(dicom.data)))
    try:
        colours = apply_color_lut(pixels[..., 0], ds)
    except (AttributeError, KeyError, ValueError, IndexError):  # no usable palette
        return pixels
    return colours.reshape(*pixels.shape[:3], 3)


def fingerprint(dicom: DicomFile) -> Instance:
    """Compute the instance record: pixel hash, acquisition signature and header tokens.

    An object without Pixel Data gets the hash of its normalised content
    (:func:`object_content`) in place of the pixel hash, no perceptual hash, and no rows,
    columns or frames.

    Raises:
        PixelLengthError: native pixel data of the wrong length.
        ParseError: encapsulated pixel data that is truncated or broken, or an object
            without Pixel Data whose content cannot be read.

    """
    fmt = pixel_format(dicom)
    pixels = canonical_pixels(dicom, fmt)
    blank = pixels is not None and is_constant(pixels)
    detail, look = (None, None) if pixels is None or blank else acquisition(
        _displayed(dicom, pixels), exposure_record(dicom.text),
        lossy=lossy_code(dicom.header.transfer_syntax, dicom.text("LossyImageCompression")))
    if pixels is None:  # no Pixel Data: fingerprinted by its normalised content
        fmt, digest = object_content(dicom, fmt)
    else:
        digest = pixel_hash(fmt, pixels)
    t, n = dicom.text, dicom.number
    return Instance(
        location=dicom.location,
        file_hash=dicom.file_hash,
        sop_uid=t("SOPInstanceUID"),
        sop_class_uid=t("SOPClassUID"),
        study_uid=t("StudyInstanceUID"),
        series_uid=t("SeriesInstanceUID"),
        transfer_syntax=dicom.header.transfer_syntax,
        patient_id=t("PatientID"),
        issuer=t("IssuerOfPatientID") or t("InstitutionName"),
        patient_name=t("PatientName"),
        birth_date=t("PatientBirthDate"),
        sex=t("PatientSex"),
        institution=t("InstitutionName"),
        study_date=t("StudyDate"),
        study_time=t("StudyTime"),
        accession=t("AccessionNumber"),
        study_description=t("StudyDescription"),
        series_description=t("SeriesDescription"),
        modality=t("Modality"),
        body_part=t("BodyPartExamined"),
        procedure_code=_code(dicom),
        series_number=n("SeriesNumber", -1) if t("SeriesNumber") else None,
        instance_number=n("InstanceNumber", -1) if t("InstanceNumber") else None,
        rows=fmt.rows,
        columns=fmt.columns,
        frames=fmt.frames,
        pixel_hash=digest,
        tokens=header_tokens(dicom.header.values),
        blank=blank,
        detail=detail,
        look=look,
        laterality=tag_laterality(t("ImageLaterality"),
                                  t("FrameAnatomySequence.FrameLaterality")
                                  or t("FrameLaterality"), t("Laterality")),
    )


def object_content(dicom: DicomFile, fmt: PixelFormat) -> tuple[PixelFormat, bytes]:
    """The format and content hash of a file without Pixel Data.

    An image whose values are Float or Double Float Pixel Data keeps its rows, columns and
    frames (those values are part of its content); any other object has none.

    Raises:
        ParseError: ``corrupt``, an element pydicom cannot read or convert.

    """
    try:
        ds = dicom.dataset if dicom.dataset is not None else dcmread(BytesIO(bytes(dicom.data)))
        digest = content_hash(ds)
    except Exception as exc:  # pydicom raises many types for a damaged element
        raise ParseError("corrupt", f"content could not be read ({type(exc).__name__})"
                         ) from None
    if _FLOAT_PIXELS.isdisjoint(ds.keys()):
        fmt = PixelFormat(rows=0, columns=0, frames=0)
    return fmt, digest


def _code(dicom: DicomFile) -> str:
    value = dicom.text("ProcedureCodeSequence.CodeValue")
    scheme = dicom.text("ProcedureCodeSequence.CodingSchemeDesignator")
    return f"{scheme}:{value}" if value else ""
