"""Archive rows without files: studies with given pixel hashes, signatures and header tokens."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from datetime import date

from dedup.archive.db import Archive
from dedup.fingerprint.signature import band_keys, minhash, to_blob


@dataclass(frozen=True)
class FakeStudy:
    uid: str
    patient: str  # name; birth date and sex are fixed per name below
    issuer: str
    day: date
    pixels: tuple[bytes, ...]
    tokens: tuple[str, ...]
    details: tuple[bytes, ...] = field(default=())  # acquisition signatures, 261 bytes
    description: str = "CT HEAD W/O CONTRAST"
    modality: str = "CT"


BIRTH = {"MUELLER^HANS": date(1950, 1, 1), "Müller^Hans": date(1950, 1, 1),
         "OKAFOR^GRACE": date(1960, 5, 5), "NAKAMURA^KENJI": date(1971, 3, 9),
         "SILVA^ANA": date(1985, 11, 23), "KOWALSKI^PIOTR": date(1944, 7, 30)}
SEX = {"MUELLER^HANS": "M", "Müller^Hans": "M", "OKAFOR^GRACE": "F", "NAKAMURA^KENJI": "M",
       "SILVA^ANA": "F", "KOWALSKI^PIOTR": "M"}


def signature_of(pixel: bytes) -> bytes:
    """A stand-in acquisition signature (version 2, structure only, no coarse content):
    unrelated images get unrelated bits (about half differ), the same pixels the same bits."""
    return (struct.pack(">BHH", 2, 16, 16) + hashlib.sha512(pixel).digest()
            + hashlib.sha512(pixel[::-1]).digest() + bytes(128))


def add(archive: Archive, study: FakeStudy, run_id: int) -> None:
    """Insert one study as the indexer would have committed it."""
    patient_key = archive.scalar("SELECT patient_key FROM patients WHERE issuer = ? AND "
                                 "patient_id = ?", [study.issuer, study.patient])
    if patient_key is None:
        patient_key = archive.scalar("SELECT nextval('patient_keys')")
        archive.execute("INSERT INTO patients VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [patient_key, study.issuer, study.patient, study.patient,
                         BIRTH[study.patient], SEX[study.patient], study.issuer])
    key = archive.scalar("SELECT nextval('study_keys')")
    n = len(study.pixels)
    archive.execute("INSERT INTO studies VALUES (?, ?, ?, ?, '', '', ?, '', ?, ?, '', 1, ?, ?, "
                    "?, ?)", [key, study.uid, patient_key, study.day, study.description,
                              study.issuer, study.modality, n, 1000 * n, run_id, run_id])
    details = study.details or tuple(signature_of(pixel) for pixel in study.pixels)
    for i, (pixel, detail) in enumerate(zip(study.pixels, details, strict=True)):
        archive.execute("INSERT INTO instances VALUES (nextval('instance_keys'), ?, 0, ?, '', "
                        "'', ?, 16, 16, 1, ?, ?, 1000, ?, ?, false, ?, NULL, NULL, NULL, NULL)",
                        [f"{study.uid}.{i}", key, i, pixel, pixel + b"f",
                         f"/x/{study.uid}/{i}", run_id, detail])
    for kind, values in (("pixel", study.pixels), ("header", study.tokens)):
        sig = minhash(values, 128)
        archive.execute("INSERT INTO fingerprints VALUES (?, ?, ?)", [key, kind, to_blob(sig)])
        for band, band_key in enumerate(band_keys(sig, 32)):
            archive.execute("INSERT INTO lsh_bands VALUES (?, ?, ?, ?)",
                            [key, kind, band, band_key])
