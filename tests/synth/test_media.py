"""Media forms of a study: a zip file and a DICOMDIR (CD/DVD) layout."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

from pydicom.fileset import FileSet

from dedup import synth


def test_zip_and_dicomdir(tmp_path: Path) -> None:
    patient = synth.Patient("DOE^JANE", "SM0000001", "STMARY", date(1980, 1, 1), "F", 1)
    synth.write_study(tmp_path / "media", modality="XR", patient=patient, seed=2,
                      study_date=date(2024, 1, 1), institution="St. Mary Hospital")  # fmt: skip
    (study,) = (tmp_path / "media").iterdir()
    synth.zip_study(study, tmp_path / "study.zip")
    with zipfile.ZipFile(tmp_path / "study.zip") as zf:
        assert sorted(zf.namelist()) == sorted(
            p.relative_to(tmp_path / "media").as_posix() for p in study.rglob("*.dcm")
        )
    dicomdir = synth.write_dicomdir(tmp_path / "media")
    assert dicomdir.name == "DICOMDIR"
    assert len(FileSet(dicomdir)) == 2
    assert not list((tmp_path / "media").rglob("*.dcm"))
