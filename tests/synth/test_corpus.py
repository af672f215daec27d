"""Tests for the synthetic corpus generator (kept small: 2 patients, 2 CT slices per series)."""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from datetime import date
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dedup import synth

SEED = 11
SMALL = {"patients": 2, "seed": SEED, "ct_slices": 2}


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _index(root: Path) -> dict[str, list[Path]]:
    studies: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(root.rglob("*.dcm")):
        studies[pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID].append(path)
    return dict(studies)


def _by_position(paths: list[Path]) -> dict[tuple[int, int], pydicom.Dataset]:
    datasets = [pydicom.dcmread(p) for p in paths]
    return {(int(ds.SeriesNumber), int(ds.InstanceNumber)): ds for ds in datasets}


def _pair(
    label: synth.Label, incoming: dict[str, list[Path]], archive: dict[str, list[Path]]
) -> tuple[dict[tuple[int, int], pydicom.Dataset], dict[tuple[int, int], pydicom.Dataset]]:
    assert label.duplicate_of is not None
    return _by_position(incoming[label.study_uid]), _by_position(archive[label.duplicate_of])


def _labels(corpus: synth.Corpus, kind: str) -> list[synth.Label]:
    return [label for label in corpus.labels if label.kind == kind]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> synth.Corpus:
    return synth.make_corpus(tmp_path_factory.mktemp("corpus"), **SMALL)


@pytest.fixture(scope="module")
def archive(corpus: synth.Corpus) -> dict[str, list[Path]]:
    return _index(corpus.archive_dir)


@pytest.fixture(scope="module")
def incoming(corpus: synth.Corpus) -> dict[str, list[Path]]:
    return _index(corpus.incoming_dir)


def test_corpus_is_reproducible(corpus: synth.Corpus, tmp_path: Path) -> None:
    again = synth.make_corpus(tmp_path / "again", **SMALL)
    assert _digest(again.archive_dir) == _digest(corpus.archive_dir)
    assert _digest(again.incoming_dir) == _digest(corpus.incoming_dir)
    assert again.labels == corpus.labels
    assert (again.files, again.bytes) == (corpus.files, corpus.bytes)
    roots = (corpus.archive_dir, corpus.incoming_dir)
    files = [p for root in roots for p in root.rglob("*") if p.is_file()]
    assert corpus.files == len(files)
    assert corpus.bytes == sum(p.stat().st_size for p in files)


def test_labels_cover_every_kind(
    corpus: synth.Corpus, archive: dict[str, list[Path]], incoming: dict[str, list[Path]]
) -> None:
    assert {label.kind for label in corpus.labels} == set(synth.LABEL_KINDS)
    assert {label.study_uid for label in corpus.labels} == set(incoming)
    assert len(corpus.labels) == len(incoming)
    for kind in synth.ALL_KINDS:
        labels = _labels(corpus, kind)
        assert len(labels) >= 2, kind
        modalities = {
            pydicom.dcmread(incoming[label.study_uid][0], stop_before_pixels=True).Modality
            for label in labels
        }
        assert len(modalities) >= 2, kind
        assert all(label.duplicate_of in archive for label in labels)
    assert all(label.duplicate_of is None for label in _labels(corpus, "negative"))


def test_kinds_and_negatives_are_selectable(tmp_path: Path) -> None:
    corpus = synth.make_corpus(
        tmp_path, patients=1, seed=1, ct_slices=1, kinds=["exact"], negatives=False
    )
    assert {label.kind for label in corpus.labels} == {"exact", "negative"}
    assert {label.note for label in _labels(corpus, "negative")} == {"unrelated new patient"}
    with pytest.raises(ValueError, match="unknown kinds"):
        synth.make_corpus(tmp_path / "x", kinds=["nope"])


def test_layout_does_not_reveal_kind(corpus: synth.Corpus) -> None:
    for root in (corpus.archive_dir, corpus.incoming_dir):
        for path in root.rglob("*"):
            if path.is_file():
                study, series, name = path.relative_to(root).parts
                assert re.fullmatch(r"[0-9a-f]{8}", study)
                assert series.isdigit() and re.fullmatch(r"\d+\.dcm", name)


def test_files_read_back_with_realistic_headers(
    archive: dict[str, list[Path]], incoming: dict[str, list[Path]]
) -> None:
    syntaxes, modalities = set(), set()
    for path in [p for paths in (*archive.values(), *incoming.values()) for p in paths]:
        ds = pydicom.dcmread(path)
        syntaxes.add(ds.file_meta.TransferSyntaxUID)
        modalities.add(ds.Modality)
        assert ds.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        for keyword in ("PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate",
                        "StudyDate", "AccessionNumber", "StudyDescription", "InstitutionName",
                        "Manufacturer", "SeriesInstanceUID", "BodyPartExamined"):  # fmt: skip
            assert ds.get(keyword) not in (None, ""), keyword
        if not str(ds.PatientName).isascii():
            assert ds.SpecificCharacterSet == "ISO_IR 192"
        arr = ds.pixel_array
        assert arr.std() > 1.0
        if ds.Modality == "CT":
            limit = 2 ** (ds.BitsStored - 1)
            assert ds.PixelRepresentation == 1 and ds.BitsStored in (12, 16)
            assert -limit <= int(arr.min()) and int(arr.max()) < limit
            assert arr.shape == (512, 512)
        if ds.Modality == "US" and ds.get("NumberOfFrames", 1) > 1:
            assert arr.shape == (ds.NumberOfFrames, 480, 640)
    assert modalities >= {"CT", "MR", "US"} and modalities & {"CR", "DX"}
    assert {ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEG2000} <= syntaxes
    assert len(syntaxes) >= 5  # + RLE Lossless and JPEG 2000 Lossless


def test_exact_copies_are_byte_identical(
    corpus: synth.Corpus, archive: dict[str, list[Path]], incoming: dict[str, list[Path]]
) -> None:
    for label in _labels(corpus, "exact"):
        assert label.study_uid == label.duplicate_of
        ours = sorted(p.read_bytes() for p in incoming[label.study_uid])
        theirs = sorted(p.read_bytes() for p in archive[label.study_uid])
        assert ours == theirs


def test_same_content_has_identical_pixels_and_new_uids(
    corpus: synth.Corpus, archive: dict[str, list[Path]], incoming: dict[str, list[Path]]
) -> None:
    reidentified = 0
    for label in _labels(corpus, "same-content"):
        ours, theirs = _pair(label, incoming, archive)
        assert ours.keys() == theirs.keys()
        for key, ds in ours.items():
            assert np.array_equal(ds.pixel_array, theirs[key].pixel_array)
            assert ds.SOPInstanceUID != theirs[key].SOPInstanceUID
            assert ds.AccessionNumber != theirs[key].AccessionNumber
        first, original = next(iter(ours.values())), next(iter(theirs.values()))
        reidentified += first.PatientID != original.PatientID
        assert first.PatientBirthDate == original.PatientBirthDate
    assert reidentified >= 1


def test_partial_holds_most_of_the_instances(
    corpus: synth.Corpus, archive: dict[str, list[Path]], incoming: dict[str, list[Path]]
) -> None:
    for label in _labels(corpus, "partial"):
        ours, theirs = _pair(label, incoming, archive)
        assert set(ours) < set(theirs)
        assert len(ours) >= 0.6 * len(theirs)
        for key, ds in ours.items():
            assert np.array_equal(ds.pixel_array, theirs[key].pixel_array)


def test_near_copies_are_close_but_not_equal(
    corpus: synth.Corpus, archive: dict[str, list[Path]], incoming: dict[str, list[Path]]
) -> None:
    for label in _labels(corpus, "near"):
        ours, theirs = _pair(label, incoming, archive)
        assert ours.keys() == theirs.keys()
        for key, ds in ours.items():
            a, b = ds.pixel_array.astype(float), theirs[key].pixel_array.astype(float)
            assert a.shape == b.shape and not np.array_equal(a, b)
            assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.8


def test_repeats_are_new_acquisitions_of_the_same_person(
    corpus: synth.Corpus, archive: dict[str, list[Path]], incoming: dict[str, list[Path]]
) -> None:
    moved = 0
    for label in _labels(corpus, "repeat"):
        ours, theirs = _pair(label, incoming, archive)
        first, original = next(iter(ours.values())), next(iter(theirs.values()))
        assert first.PatientBirthDate == original.PatientBirthDate
        assert first.PatientSex == original.PatientSex
        assert first.StudyDescription == original.StudyDescription
        gap = (date.fromisoformat(first.StudyDate) - date.fromisoformat(original.StudyDate)).days
        assert 5 <= gap <= 60
        moved += first.IssuerOfPatientID != original.IssuerOfPatientID
        for key, ds in ours.items():
            assert not np.array_equal(ds.pixel_array, theirs[key].pixel_array)
    assert moved >= 1


def test_negatives_are_look_alikes(corpus: synth.Corpus, incoming: dict[str, list[Path]]) -> None:
    notes = {label.note: label.study_uid for label in _labels(corpus, "negative")}
    assert any("same day" in n for n in notes) and any("2 years" in n for n in notes)
    assert any("different procedure" in n for n in notes) and any("namesake" in n for n in notes)


def test_write_study_is_deterministic_per_seed(tmp_path: Path) -> None:
    patient = synth.Patient("Müller^Hans", "KN-000001", "KLINORD", date(1961, 4, 2), "M", 7)
    args = {"modality": "MR", "patient": patient, "study_date": date(2024, 5, 6),
            "institution": "Klinikum Nord", "slices": 2,
            "procedure": "MR BRAIN W/O CONTRAST"}  # fmt: skip
    uid = synth.write_study(tmp_path / "a", seed=5, **args)
    assert synth.write_study(tmp_path / "b", seed=5, **args) == uid
    other = synth.write_study(tmp_path / "c", seed=6, **args)
    assert other != uid
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    first = pydicom.dcmread(next((tmp_path / "a").rglob("1.dcm")))
    second = pydicom.dcmread(next((tmp_path / "c").rglob("1.dcm")))
    assert first.SpecificCharacterSet == "ISO_IR 192" and str(first.PatientName) == "Müller^Hans"
    assert not np.array_equal(first.pixel_array, second.pixel_array)
    assert np.corrcoef(first.pixel_array.ravel(), second.pixel_array.ravel())[0, 1] > 0.5


def test_write_labels(corpus: synth.Corpus, tmp_path: Path) -> None:
    synth.write_labels(corpus, tmp_path / "labels.json")
    doc = json.loads((tmp_path / "labels.json").read_text(encoding="utf-8"))
    assert [synth.Label(**item) for item in doc["labels"]] == list(corpus.labels)
    assert doc["files"] == corpus.files
