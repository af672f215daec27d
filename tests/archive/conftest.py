"""Archive test data: two small studies written by dedup.synth, and a file that is no DICOM."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dedup import synth


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two studies of one patient (MR: 3 series of 2 slices; XR: 2 views) and a text file."""
    root = tmp_path_factory.mktemp("studies")
    patient = synth.Patient("DOE^JANE", "SM0000001", "STMARY", date(1980, 1, 1), "F", 1)
    for seed, modality in enumerate(("MR", "XR")):
        synth.write_study(root, modality=modality, patient=patient, seed=seed, slices=2,
                          study_date=date(2024, 1, 1 + seed), institution="St. Mary Hospital")
    (root / "notes.txt").write_text("not an image")
    return root
