"""The exposure record: what a device wrote about the one exposure an image was made by.

A scanner records where the patient lay (the table height, the image's position) and what the
exposure was (counts accumulated, tube current and time, exposure index). De-identifiers keep
these values, since they describe the image, not the person, and a copy keeps them exactly;
a new acquisition, even of the same person on the same protocol, has the patient placed
again and (with dose modulation, counting statistics or an exposure index) another exposure.
Two images with the same record were made by one exposure, unless both came from one
acquisition, for instance two reconstructions of one CT scan, or a scan repeated at once
with the patient still on the table at a fixed dose.

The record is a 64-bit digest of those values, each number normalised (``47.000`` and ``47``
agree), present only when the header has a placement and an exposure value. Beside it the
acquisition signature keeps how the image is stored lossily (:func:`lossy_code`): a copy
that lost detail to compression is lossy by its transfer syntax, or by
``LossyImageCompression`` (DICOM requires ``01`` once an image has been compressed lossily,
whatever it is stored as now). Matching takes a shared record as evidence only between two
images stored differently, at least one of them lossily
(:func:`dedup.fingerprint.detail.copy_partners`): a scan repeated on the spot is stored as
its first was, without loss or by the same codec, and is compared on its pixels alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

#: Where the patient lay when the image was made.
PLACEMENT = ("ImagePositionPatient", "SliceLocation", "TableHeight")
#: What the exposure was.
EXPOSURE = ("CountsAccumulated", "ActualFrameDuration", "Exposure", "ExposureInuAs",
            "XRayTubeCurrent", "ExposureTime", "ExposureIndex", "DeviationIndex",
            "RelativeXRayExposure")
#: Transfer syntaxes whose pixels lost information: a copy in one of them is lossy. Written
#: out (the pre-order check imports this module, and pydicom takes 0.13 s to import); their
#: order numbers the codes that signatures store (:func:`lossy_code`): append, never reorder.
LOSSY_SYNTAXES = tuple(f"1.2.840.10008.1.2.4.{n}" for n in (
    "50", "51", "81", "91", "93", "203",  # JPEG baseline, extended; JPEG-LS near-lossless;
    # JPEG 2000, its multi-component form, high-throughput JPEG 2000; then MPEG-2, H.264, HEVC
    "100", "100.1", "101", "101.1", "102", "102.1", "103", "103.1", "104", "104.1", "105",
    "105.1", "106", "106.1", "107", "108"))


def exposure_record(text: Callable[[str], str]) -> bytes | None:
    """The 8-byte record of an image's exposure, from its header values (``None`` if partial).

    Args:
        text: the header value of a keyword, ``""`` when absent.

    """
    values = {name: _numbers(text(name)) for name in (*PLACEMENT, *EXPOSURE)}
    if not any(values[name] for name in PLACEMENT) or \
            not any(values[name] for name in EXPOSURE):
        return None
    line = "|".join(f"{name}={value}" for name, value in values.items() if value)
    return hashlib.blake2b(line.encode(), digest_size=8, person=b"dedup-exposure").digest()


def lossy_code(transfer_syntax: str, lossy_image_compression: str) -> int:
    """How an image is stored lossily: 0 not at all, else one number per lossy codec.

    An image stored without loss that says it was compressed lossily once is 255.
    """
    if transfer_syntax in LOSSY_SYNTAXES:
        return LOSSY_SYNTAXES.index(transfer_syntax) + 1
    return 255 if lossy_image_compression.strip() == "01" else 0


def _numbers(text: str) -> str:
    """A multi-valued DS or IS as numbers to six significant digits; ``""`` if not numeric."""
    try:
        return "/".join(f"{float(part):.6g}" for part in text.split("\\") if part.strip())
    except ValueError:
        return ""
