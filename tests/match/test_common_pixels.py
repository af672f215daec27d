"""Pixel hashes that say nothing about who was imaged never make studies duplicates.

Blank images (constant pixels) are flagged when fingerprinted; hashes held by the studies of
many different patients (test images, placeholders) are on a stop-list at matching time.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
from pydicom import dcmread

from dedup.archive.db import Archive
from dedup.batch.pipeline import index
from dedup.config import Settings
from dedup.fingerprint.instance import fingerprint_location
from dedup.match import match
from dedup.records import Instance, Location
from tests.conftest import shipped
from tests.match.fake import FakeStudy, add


def write(path: Path, patient: str, study: str, number: int, blank: bool) -> Path:
    """CT_small re-identified as ``patient``'s study ``study``; blank: all pixels -1000 HU."""
    ds = dcmread(shipped("CT_small.dcm"))
    ds.PatientName = ds.PatientID = patient
    ds.StudyInstanceUID = f"1.2.826.0.1.3680043.10.999.{study}"
    ds.SeriesInstanceUID = f"{ds.StudyInstanceUID}.1"
    ds.SOPInstanceUID = f"{ds.StudyInstanceUID}.1.{number}"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.InstanceNumber = number
    if blank:
        ds.PixelData = np.full(ds.pixel_array.shape, -1000, ds.pixel_array.dtype).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def test_a_blank_image_is_flagged_and_has_no_acquisition_signature(tmp_path: Path) -> None:
    path = write(tmp_path / "blank.dcm", "ONE", "1", 1, blank=True)
    result = fingerprint_location(Location(str(path), None, path.stat().st_size, 0.0),
                                  Settings())
    assert isinstance(result, Instance)
    assert result.blank and result.detail is None and result.pixel_hash is not None
    real = fingerprint_location(Location(str(shipped("CT_small.dcm")), None, 0, 0.0),
                                Settings())
    assert isinstance(real, Instance) and not real.blank and real.detail is not None


def test_unrelated_studies_sharing_a_blank_image_are_not_duplicates(
        tmp_path: Path, settings: Settings) -> None:
    # A: a real image plus a blank placeholder; B and C (other patients): the blank only.
    # Without the flag, B and C would be same-content and each a partial copy of A.
    write(tmp_path / "in" / "a" / "1.dcm", "ONE", "1", 1, blank=False)
    write(tmp_path / "in" / "a" / "2.dcm", "ONE", "1", 2, blank=True)
    write(tmp_path / "in" / "b" / "1.dcm", "TWO", "2", 1, blank=True)
    write(tmp_path / "in" / "c" / "1.dcm", "THREE", "3", 1, blank=True)
    summary = index([tmp_path / "in"], settings)
    assert summary.instances == 4
    with Archive.open(settings.archive, read_only=True) as archive:
        assert archive.scalar("SELECT count(*) FROM instances WHERE blank") == 3
        assert archive.scalar("SELECT count(*) FROM duplicates") == 0


def _px(tag: str, n: int) -> tuple[bytes, ...]:
    return tuple(f"{tag}{i}".encode().ljust(16, b".") for i in range(n))


PLACEHOLDER = b"scout-placeholder".ljust(16, b".")
PATIENTS = ("NAKAMURA^KENJI", "SILVA^ANA", "KOWALSKI^PIOTR")


def placeholder_pairs(settings: Settings) -> set[tuple[frozenset[str], str]]:
    """Three patients' studies holding one shared placeholder, plus their own images."""
    studies = [FakeStudy(f"2.{n}", name, "STMARY", date(2024, 1, 10 + n),
                         (PLACEHOLDER, *_px(name, n)), (f"acq:{name}", f"inst:{name}"))
               for n, name in enumerate(PATIENTS)]  # 2.0 holds the placeholder only
    with Archive.open(":memory:") as archive:
        for study in studies:
            add(archive, study, 1)
        match(archive, settings, run_id=1)
        rows = archive.query("SELECT study_uid, duplicate_of_study_uid, kind FROM duplicates")
    return {(frozenset((a, b)), kind) for a, b, kind in rows.iter_rows()}


def test_a_pixel_hash_many_patients_hold_is_ignored() -> None:
    # Held by 3 patients' studies: below the default stop-list size the placeholder makes
    # 2.0 a partial copy of the other two; above it, nothing is flagged.
    assert placeholder_pairs(Settings()) == {(frozenset({"2.0", "2.1"}), "partial"),
                                             (frozenset({"2.0", "2.2"}), "partial")}
    assert placeholder_pairs(Settings(match_common_pixel_patients=2)) == set()
