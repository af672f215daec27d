"""Normalised header tokens: what a study's header MinHash is computed over.

Kept apart from :mod:`dedup.fingerprint.signature`, which the worker processes do not need.
"""

from __future__ import annotations

from collections.abc import Mapping

#: The header values tokens are made of, in the order :func:`header_tokens` unpacks them.
_NAMES = ("Modality", "BodyPartExamined", "Rows", "Columns", "NumberOfFrames", "SeriesNumber",
          "SeriesDescription", "ProtocolName", "Manufacturer", "StationName",
          "StudyDescription", "ImagePositionPatient", "SliceLocation", "InstanceNumber",
          "AcquisitionTime", "ContentTime", "PixelSpacing", "SliceThickness")


def header_tokens(values: Mapping[str, object]) -> tuple[str, ...]:
    """Return the normalised header tokens of one instance.

    Tokens describe the acquisition, not the identity: they survive new UIDs, a new
    accession number or a re-identified patient, and change for a new acquisition. Each
    value is upper-cased with its runs of white space made one space.
    """
    (modality, body, rows, columns, frames, number, series_description, protocol,
     manufacturer, station, study_description, position, slice_location, instance,
     acquisition, content, spacing, thickness) = [
        " ".join(str(values.get(name, "")).upper().split()) for name in _NAMES]
    series = f"{number}|{series_description}"
    tokens = [f"mod:{modality}", f"body:{body}", f"geom:{rows}x{columns}x{frames or 1}",
              f"series:{series}", f"proto:{protocol}", f"device:{manufacturer}|{station}"]
    tokens += [f"desc:{word}" for word in study_description.split()]
    slice_key = _position(position) or slice_location
    tokens += [f"inst:{series}|{instance}", f"pos:{series}|{slice_key}",
               f"acq:{series}|{acquisition}|{content}", f"px:{spacing}|{thickness}"]
    return tuple(t for t in tokens if t[-1] != ":" and t[-1] != "|")


def _position(text: str) -> str:
    try:
        return "/".join([f"{float(v):.1f}" for v in text.split("\\")])
    except ValueError:
        return ""
