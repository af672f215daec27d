"""Archive rows without files: studies with given pixel hashes, phashes and header tokens."""

from __future__ import annotations

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
    phashes: tuple[bytes, ...] = field(default=())
    description: str = "CT HEAD W/O CONTRAST"
    modality: str = "CT"


BIRTH = {"MUELLER^HANS": date(1950, 1, 1), "Müller^Hans": date(1950, 1, 1),
         "OKAFOR^GRACE": date(1960, 5, 5), "NAKAMURA^KENJI": date(1971, 3, 9),
         "SILVA^ANA": date(1985, 11, 23), "KOWALSKI^PIOTR": date(1944, 7, 30)}
SEX = {"MUELLER^HANS": "M", "Müller^Hans": "M", "OKAFOR^GRACE": "F", "NAKAMURA^KENJI": "M",
       "SILVA^ANA": "F", "KOWALSKI^PIOTR": "M"}


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
    phashes = study.phashes or tuple(bytes(32) for _ in study.pixels)
    for i, (pixel, phash) in enumerate(zip(study.pixels, phashes, strict=True)):
        archive.execute("INSERT INTO instances VALUES (nextval('instance_keys'), ?, 0, ?, '', "
                        "'', ?, 16, 16, 1, ?, ?, ?, 1000, ?, ?, false)",
                        [f"{study.uid}.{i}", key, i, pixel, phash, pixel + b"f",
                         f"/x/{study.uid}/{i}", run_id])
    for kind, values in (("pixel", study.pixels), ("header", study.tokens)):
        sig = minhash(values, 128)
        archive.execute("INSERT INTO fingerprints VALUES (?, ?, ?)", [key, kind, to_blob(sig)])
        for band, band_key in enumerate(band_keys(sig, 32)):
            archive.execute("INSERT INTO lsh_bands VALUES (?, ?, ?, ?)",
                            [key, kind, band, band_key])
