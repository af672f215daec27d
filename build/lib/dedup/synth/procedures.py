"""Procedure catalogue: the studies the generator can acquire, grouped by modality family."""

from __future__ import annotations

from dataclasses import dataclass

from dedup.synth.people import _site


@dataclass(frozen=True, slots=True)
class _Proc:
    family: str
    body: str
    region: str
    code: str
    series: tuple[tuple[str, str], ...]


_CT = (("AXIAL 5.0 SOFT TISSUE", "soft"), ("AXIAL 5.0 BONE", "bone"), ("AXIAL 2.5 THIN", "thin"))
_BRAIN = (("AX T1 SE", "T1"), ("AX T2 TSE", "T2"), ("AX FLAIR", "FLAIR"))
_SPINE = (("SAG T1 TSE", "T1"), ("SAG T2 TSE", "T2"), ("SAG STIR", "STIR"))
_PROCS = {
    "CT HEAD W/O CONTRAST": _Proc("CT", "HEAD", "head", "CT1001", _CT),
    "CT CHEST WITH CONTRAST": _Proc("CT", "CHEST", "chest", "CT2002", _CT),
    "CT ABDOMEN PELVIS": _Proc("CT", "ABDOMENPELVIS", "abdomen", "CT3003", _CT),
    "MR BRAIN W/O CONTRAST": _Proc("MR", "BRAIN", "brain", "MR1001", _BRAIN),
    "MR L-SPINE": _Proc("MR", "LSPINE", "spine", "MR4004", _SPINE),
    "XR CHEST 2 VIEWS": _Proc("XR", "CHEST", "chest", "XR2002", (("PA", "PA"), ("LAT", "LL"))),
    "US ABDOMEN COMPLETE": _Proc("US", "ABDOMEN", "abdomen", "US3001", (("ABDOMEN", "abd"),)),
}
PROCEDURES: tuple[str, ...] = tuple(_PROCS)
_FAMILY = {"CT": "CT", "MR": "MR", "CR": "XR", "DX": "XR", "XR": "XR", "US": "US"}


def _resolve(modality: str, procedure: str | None, seed: int, institution: str) -> tuple[str, str]:
    family = _FAMILY.get(modality.upper())
    if family is None:
        raise ValueError(f"unsupported modality {modality!r}")
    names = [name for name, p in _PROCS.items() if p.family == family]
    name = procedure or names[seed % len(names)]
    if name not in _PROCS or _PROCS[name].family != family:
        raise ValueError(f"procedure {name!r} does not fit modality {modality!r}")
    real = _site(institution).xr_modality if modality.upper() == "XR" else modality.upper()
    return real, name
