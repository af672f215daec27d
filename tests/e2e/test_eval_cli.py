"""``dedup eval``: the labelled evaluation as a command, and the recipe of its near copies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pydicom import dcmread

from dedup.evaluate import KINDS
from dedup.synth.copies import NEAR_KEEP, anonymise
from tests.conftest import dedup_cli, shipped


def test_eval_prints_metrics_per_kind_as_json() -> None:
    proc = dedup_cli("eval", "--seeds", "1", "--patients", "1", "--ct-slices", "1",
                     "--no-third-party", "--format", "json")
    result = json.loads(proc.stdout)
    assert list(result["kinds"]) == list(KINDS)
    assert result["labelled"] == sum(sum(row.values()) for row in result["confusion"].values())
    for kind in KINDS:
        assert set(result["kinds"][kind]) == {"labelled", "predicted", "true_positives",
                                              "precision", "recall", "f1"}
    assert result["missed_targets"] == [] and result["false_repeats"] == 0


def test_near_copies_keep_acquisition_times_through_dicognito(tmp_path: Path) -> None:
    # dicognito shifts each time with its date: keeping AcquisitionTime alone is not enough.
    (tmp_path / "src").mkdir()
    shutil.copy(shipped("CT_small.dcm"), tmp_path / "src" / "1.dcm")
    original = dcmread(tmp_path / "src" / "1.dcm")
    anonymise(tmp_path / "src", tmp_path / "kept", "k", NEAR_KEEP)
    anonymise(tmp_path / "src", tmp_path / "shifted", "k")
    kept = dcmread(next((tmp_path / "kept").rglob("*.dcm")))
    shifted = dcmread(next((tmp_path / "shifted").rglob("*.dcm")))
    assert kept.StudyInstanceUID != original.StudyInstanceUID
    assert (kept.AcquisitionTime, kept.ContentTime) == (original.AcquisitionTime,
                                                        original.ContentTime)
    assert shifted.AcquisitionDate != original.AcquisitionDate
