"""Invented people: patient records, name spellings, institutions and their habits.

Names are drawn from fixed lists (never real people). Each person has a home record and an
alias record at a second institution, with another MRN and a varied name spelling.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dedup.synth.seeds import _subseed

INSTITUTIONS: tuple[str, ...] = ("St. Mary Hospital", "Klinikum Nord", "Riverside Imaging Center")


@dataclass(frozen=True, slots=True)
class Patient:
    """One patient record at one institution.

    Attributes:
        name: DICOM PN value, e.g. ``"MUELLER^HANS"`` or ``"Müller^Hans"``.
        patient_id: The institution's MRN.
        issuer: IssuerOfPatientID of the institution.
        birth_date: Date of birth.
        sex: ``"M"``, ``"F"`` or ``"O"``.
        person: Ground-truth identity of the invented human. It seeds the anatomy, so two
            records of the same person get the same phantom.

    """

    name: str
    patient_id: str
    issuer: str
    birth_date: date
    sex: str
    person: int = 0


@dataclass(frozen=True, slots=True)
class _Site:
    issuer: str
    mrn: str
    unicode_names: bool
    xr_modality: str
    syntax: str
    station: str
    codes: bool
    ct12: bool = False


_EXPLICIT = ExplicitVRLittleEndian
_SITES = {
    "St. Mary Hospital": _Site("STMARY", "SM{:07d}", False, "DX", _EXPLICIT, "SMH", True, True),
    "Klinikum Nord": _Site("KLINORD", "KN-{:06d}", True, "CR", ImplicitVRLittleEndian, "KLN", True),
    "Riverside Imaging Center": _Site("RIVERSIDE", "R{:08d}", False, "DX", _EXPLICIT, "RIC", False),
}
_OTHER_SITE = _Site("OTHER", "X{:07d}", True, "CR", ExplicitVRLittleEndian, "OTH", False)
_SURNAMES = (
    "Müller", "Schröder", "Weiß", "Jäger", "Böhm", "Krüger", "Hoffmann", "Becker", "Novak",
    "Lindqvist", "Okafor", "Moreau", "Castillo", "Brennan", "Hartley", "Vogel", "Kowalski",
    "Tanaka", "Marsh", "Delgado",
)  # fmt: skip
_GIVEN = {
    "M": ("Hans", "Jürgen", "Karl", "Lukas", "Tomas", "Peter", "Daniel", "Samuel", "Felix", "Ole"),
    "F": ("Anna", "Lena", "Sophie", "Marta", "Claire", "Ingrid", "Nora", "Elena", "Grace", "Hanna"),
}
_MIDDLE = {"M": ("J", "Friedrich", "Wilhelm", "", ""), "F": ("Maria", "Anne", "J", "", "")}
_DOCTORS = ("Brandt^Elke^^Dr.", "Haas^Tobias^^Dr.", "OKONKWO^RITA^^DR", "Fischer^Björn^^Dr.")
_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "AE", "Ö": "OE"})


def _site(name: str) -> _Site:
    return _SITES.get(name, _OTHER_SITE)


@dataclass(frozen=True, slots=True)
class _Person:
    index: int
    home: Patient
    alias: Patient
    home_site: str
    alias_site: str


def _pn(family: str, given: str, middle: str, site: str) -> str:
    name = "^".join(p for p in (family, given, middle) if p)
    return name if _site(site).unicode_names else name.translate(_TRANSLIT).upper()


def _alias_name(name: str, variant: int) -> str:
    parts = name.split("^")
    if variant == 1:  # family and given swapped
        parts[0], parts[1] = parts[1], parts[0]
    elif variant == 2 and len(parts[0]) > 3:  # typo: two letters transposed
        parts[0] = parts[0][:2] + parts[0][3] + parts[0][2] + parts[0][4:]
    elif variant == 3:  # middle name missing
        parts = parts[:2]
    return "^".join(parts)


def _mrn(i: int, rng: np.random.Generator) -> int:
    return 100_000 + 997 * i + int(rng.integers(997))  # unique per person index


def _people(seed: int, count: int) -> list[_Person]:
    rng = np.random.default_rng(_subseed("people", seed))
    combos = [(f, s, g) for f in _SURNAMES for s in "MF" for g in _GIVEN[s]]
    people = []
    for i, idx in enumerate(rng.permutation(len(combos))[:count]):
        family, sex, given = combos[int(idx)]
        middle = _MIDDLE[sex][int(rng.integers(3 if i % 4 == 3 else 5))]  # variant 3 drops it
        born = date(1940, 1, 1) + timedelta(days=int(rng.integers(0, 60 * 365)))
        home, other = INSTITUTIONS[i % 3], INSTITUTIONS[(i + 1) % 3]
        records = [
            Patient(_pn(family, given, middle, site), _site(site).mrn.format(_mrn(i, rng)),
                    _site(site).issuer, born, sex, _subseed("person", seed, i))
            for site in (home, other)
        ]  # fmt: skip
        alias = replace(records[1], name=_alias_name(records[1].name, i % 4))
        people.append(_Person(i, records[0], alias, home, other))
    return people
