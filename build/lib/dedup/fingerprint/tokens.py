"""Normalised header tokens: what a study's header MinHash is computed over.

Kept apart from :mod:`dedup.fingerprint.signature` so worker processes need not import
datasketch (and SciPy behind it) just to list tokens.
"""

from __future__ import annotations

from collections.abc import Mapping


def header_tokens(values: Mapping[str, object]) -> tuple[str, ...]:
    """Return the normalised header tokens of one instance.

    Tokens describe the acquisition, not the identity: they survive new UIDs, a new
    accession number or a re-identified patient, and change for a new acquisition.
    """
    def get(name: str) -> str:
        return " ".join(str(values.get(name, "")).upper().split())

    series = f"{get('SeriesNumber')}|{get('SeriesDescription')}"
    tokens = [f"mod:{get('Modality')}", f"body:{get('BodyPartExamined')}",
              f"geom:{get('Rows')}x{get('Columns')}x{get('NumberOfFrames') or 1}",
              f"series:{series}", f"proto:{get('ProtocolName')}",
              f"device:{get('Manufacturer')}|{get('StationName')}"]
    tokens += [f"desc:{word}" for word in get("StudyDescription").split()]
    slice_key = _position(get("ImagePositionPatient")) or get("SliceLocation")
    tokens += [f"inst:{series}|{get('InstanceNumber')}", f"pos:{series}|{slice_key}",
               f"acq:{series}|{get('AcquisitionTime')}|{get('ContentTime')}",
               f"px:{get('PixelSpacing')}|{get('SliceThickness')}"]
    return tuple(t for t in tokens if not t.endswith(":") and not t.endswith("|"))


def _position(text: str) -> str:
    try:
        return "/".join(f"{float(v):.1f}" for v in text.split("\\"))
    except ValueError:
        return ""
