"""Corpus assembly: the archive, the incoming batch with injected duplicates, ground truth."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.uid import (
    JPEG2000,
    UID,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
)

from dedup.synth.headers import _available, _encode, _is_ascii, _save, write_study
from dedup.synth.images import _resample
from dedup.synth.people import Patient, _people, _Person, _site
from dedup.synth.procedures import _PROCS, PROCEDURES, _resolve
from dedup.synth.seeds import _hex8, _subseed, _uid

ALL_KINDS: tuple[str, ...] = ("exact", "same-content", "partial", "near", "repeat")
"""Duplicate kinds :func:`make_corpus` can inject (negatives are controlled separately)."""
LABEL_KINDS: tuple[str, ...] = (*ALL_KINDS, "negative")
#: The last day a corpus made with ``today`` can hold before it is moved to end there: the
#: latest repeat (archive days end 2023-11-29, repeats come up to 60 days later) and the
#: latest unrelated new patient.
_LAST_DAY = date(2024, 1, 31)


@dataclass(frozen=True, slots=True)
class Label:
    """Ground truth for one study of the incoming batch."""

    study_uid: str
    kind: str
    duplicate_of: str | None
    note: str


@dataclass(frozen=True, slots=True)
class Corpus:
    """A generated corpus: archive, incoming batch and ground truth (files/bytes: both parts)."""

    archive_dir: Path
    incoming_dir: Path
    labels: tuple[Label, ...]
    files: int
    bytes: int


@dataclass(frozen=True, slots=True)
class _Study:
    uid: str
    path: Path
    family: str
    modality: str
    procedure: str
    patient: Patient
    person: _Person
    institution: str
    day: date


class _Run:
    """Mutable state of one make_corpus run."""

    def __init__(self, out: Path, seed: int, slices: int, today: date | None = None) -> None:
        self.archive, self.incoming = out / "archive", out / "incoming"
        self.relative = today is not None  # dates end at ``today`` (see make_corpus)
        self.shift = today - _LAST_DAY if today is not None else timedelta(0)
        self.seed, self.slices, self.count = seed, slices, 0
        self.studies: list[_Study] = []
        self.turn: dict[str, int] = {}
        self.rng = np.random.default_rng(_subseed("run", seed))

    def write(
        self, root: Path, person: _Person, patient: Patient, modality: str, day: date, site: str,
        procedure: str | None = None,
    ) -> _Study:  # fmt: skip
        self.count += 1
        seed = _subseed(self.seed, self.count, root.name, person.index, modality, procedure, day)
        real, name = _resolve(modality, procedure, seed, site)
        family = _PROCS[name].family
        syntax = _site(site).syntax if root == self.archive else ExplicitVRLittleEndian
        slices = self.slices if family == "CT" else min(self.slices, 32)
        uid = write_study(root, modality=real, patient=patient, seed=seed,
                          study_date=day + self.shift,
                          institution=site, slices=slices, transfer_syntax=syntax,
                          procedure=name)  # fmt: skip
        path = root / _hex8("study", uid)
        return _Study(uid, path, family, real, name, patient, person, site, day)

    def pick(self, family: str) -> _Study:
        pool = [s for s in self.studies if s.family == family]
        n = self.turn.get(family, 0)
        self.turn[family] = n + 1
        return pool[n % len(pool)]

    def days(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))


def _write_archive(run: _Run, people: list[_Person]) -> None:
    ct = [p for p in PROCEDURES if _PROCS[p].family == "CT"]
    mr = [p for p in PROCEDURES if _PROCS[p].family == "MR"]
    for person in people:
        i = person.index
        plan = (("CT", ct[i % 3]), ("MR", mr[i % 2]), ("XR", None), ("US", None))
        for modality, procedure in plan:
            day = date(2023, 1, 2) + timedelta(days=run.days(0, 330))
            moved = modality == "US" and i % 2 == 1  # some studies under the other record
            patient = person.alias if moved else person.home
            site = person.alias_site if moved else person.home_site
            study = run.write(run.archive, person, patient, modality, day, site, procedure)
            run.studies.append(study)


def _derive(
    run: _Run, src: _Study, salt: str, *, syntax: str = ExplicitVRLittleEndian,
    keep: set[int] | None = None, header: dict[str, Any] | None = None, resample: bool = False,
) -> str:  # fmt: skip
    study_uid = _uid("derived", run.seed, salt, src.uid)
    folder = run.incoming / _hex8("study", study_uid)
    for path in sorted(src.path.rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        if keep is not None and ds.SeriesNumber not in keep:
            continue
        if ds.file_meta.TransferSyntaxUID.is_compressed:
            ds.decompress(generate_instance_uid=False)
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = _uid("derived", salt, ds.SeriesInstanceUID)
        ds.SOPInstanceUID = _uid("derived", salt, ds.SOPInstanceUID)
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        if "FrameOfReferenceUID" in ds:
            ds.FrameOfReferenceUID = _uid("derived", salt, ds.FrameOfReferenceUID)
        for key, value in (header or {}).items():
            setattr(ds, key, value)
        if not _is_ascii(ds.PatientName, ds.InstitutionName):
            ds.SpecificCharacterSet = "ISO_IR 192"
        if resample:
            ds.PixelData = _resample(ds.pixel_array, ds.SamplesPerPixel == 3).tobytes()
        _encode(ds, syntax, ratio=15.0)
        _save(ds, folder / path.parent.name / path.name)
    return study_uid


def _new_accession(run: _Run, site: str) -> dict[str, str]:
    station = _site(site).station
    accession = f"{station}{run.days(10**7, 10**8 - 1)}"
    return {"AccessionNumber": accession, "StudyID": str(run.days(1, 99999))}


def _inject_exact(run: _Run) -> list[Label]:
    labels = []
    for family in ("CT", "XR"):
        src = run.pick(family)
        shutil.copytree(src.path, run.incoming / _hex8("copy", run.seed, src.uid))
        labels.append(Label(src.uid, "exact", src.uid, "whole study re-sent, byte-identical"))
    return labels


def _inject_same_content(run: _Run) -> list[Label]:
    rle = RLELossless if _available(RLELossless) else ImplicitVRLittleEndian
    j2k = JPEG2000Lossless if _available(JPEG2000Lossless) else ImplicitVRLittleEndian
    ct, mr, us = run.pick("CT"), run.pick("MR"), run.pick("US")
    other, site = mr.person.alias, mr.person.alias_site
    reid = {"PatientName": other.name, "PatientID": other.patient_id,
            "IssuerOfPatientID": other.issuer, "InstitutionName": site}  # fmt: skip
    us_header = _new_accession(run, us.institution) | {"StudyDescription": "US ABD COMPLETE"}
    ct_header, mr_header = _new_accession(run, ct.institution), reid | _new_accession(run, site)
    return [
        Label(_derive(run, ct, "sc-ct", syntax=rle, header=ct_header), "same-content", ct.uid,
              f"{UID(rle).name.lower()} transcode, new uids, new accession"),
        Label(_derive(run, mr, "sc-mr", syntax=j2k, header=mr_header), "same-content", mr.uid,
              f"{UID(j2k).name.lower()} transcode, new uids, "
              "re-identified with the other institution's MRN and name spelling"),
        Label(_derive(run, us, "sc-us", header=us_header), "same-content", us.uid,
              "uncompressed, new uids, new accession, changed description"),
    ]  # fmt: skip


def _inject_partial(run: _Run) -> list[Label]:
    labels = []
    for family, keep in (("CT", {1, 3}), ("MR", {1, 2})):
        src = run.pick(family)
        uid = _derive(run, src, f"partial-{family}", keep=keep)
        labels.append(Label(uid, "partial", src.uid, f"series {sorted(keep)} of 3, new uids"))
    return labels


def _inject_near(run: _Run) -> list[Label]:
    labels = []
    for family in ("CT", "MR", "XR", "US"):
        src = run.pick(family)
        if _available(JPEG2000) and family in ("CT", "MR"):
            uid = _derive(run, src, f"near-{family}", syntax=JPEG2000)
            note = "jpeg 2000 lossy transcode, new uids"
        else:
            uid = _derive(run, src, f"near-{family}", resample=True)
            note = "downsampled x2 and re-upsampled, new uids"
        labels.append(Label(uid, "near", src.uid, note))
    return labels


def _inject_repeat(run: _Run) -> list[Label]:
    labels = []
    for family, moved in (("CT", False), ("MR", True), ("XR", False)):
        src = run.pick(family)
        person, gap = src.person, run.days(5, 60)
        patient = person.alias if moved else src.patient
        site = person.alias_site if moved else src.institution
        modality = src.modality if site == src.institution else family
        day = src.day + timedelta(days=gap)
        new = run.write(run.incoming, person, patient, modality, day, site, src.procedure)
        where = "other institution, other MRN and name spelling" if moved else "same institution"
        note = f"new acquisition {gap} days later, {where}"
        labels.append(Label(new.uid, "repeat", src.uid, note))
    return labels


def _record_at(person: _Person, site: str, run: _Run) -> Patient:
    if site in (person.home_site, person.alias_site):
        return person.home if site == person.home_site else person.alias
    mrn = _site(site).mrn.format(run.days(800_000, 899_999))  # outside the _mrn range
    return replace(person.home, patient_id=mrn, issuer=_site(site).issuer)


def _inject_negatives(run: _Run, stranger: _Person) -> list[Label]:
    ct, mr, xr, us = run.pick("CT"), run.pick("MR"), run.pick("XR"), run.pick("US")
    other = _record_at(stranger, ct.institution, run)
    s1 = run.write(run.incoming, stranger, other, ct.modality, ct.day, ct.institution, ct.procedure)
    alt = next(p for p in PROCEDURES if _PROCS[p].family == "MR" and p != mr.procedure)
    s2 = run.write(run.incoming, mr.person, mr.patient, "MR", mr.day + timedelta(days=10),
                   mr.institution, alt)  # fmt: skip
    apart = timedelta(days=run.days(730, 760))  # before, when the corpus ends today
    later = xr.day - apart if run.relative else xr.day + apart
    s3 = run.write(run.incoming, xr.person, xr.patient, xr.modality, later, xr.institution)
    born = us.patient.birth_date - timedelta(days=run.days(3 * 365, 20 * 365))
    mrn = _site(us.institution).mrn.format(run.days(900_000, 999_999))
    twin = replace(us.patient, patient_id=mrn, birth_date=born, person=_subseed("twin", run.seed))
    s4 = run.write(run.incoming, us.person, twin, "US", us.day + timedelta(days=20), us.institution)
    return [
        Label(s1.uid, "negative", None, "other patient, same procedure, same day"),
        Label(s2.uid, "negative", None, "same patient, different procedure"),
        Label(s3.uid, "negative", None, "same patient and procedure, 2 years "
              + ("earlier" if run.relative else "later")),
        Label(s4.uid, "negative", None, "namesake: same name, other birth date, same procedure"),
    ]


def _inject_fresh(run: _Run, strangers: list[_Person]) -> list[Label]:
    labels = []
    for person, modality in zip(strangers, ("CT", "MR"), strict=True):
        first = date(2023, 12, 1) if run.relative else date(2025, 3, 1)
        day = first + timedelta(days=run.days(0, 60))
        new = run.write(run.incoming, person, person.home, modality, day, person.home_site)
        labels.append(Label(new.uid, "negative", None, "unrelated new patient"))
    return labels


def _tally(*roots: Path) -> tuple[int, int]:
    files = [p for root in roots for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def make_corpus(
    out: Path,
    *,
    patients: int = 6,
    seed: int = 0,
    ct_slices: int = 20,
    kinds: Iterable[str] = ALL_KINDS,
    negatives: bool = True,
    today: date | None = None,
) -> Corpus:
    """Write an archive and an incoming batch with injected duplicates and ground truth.

    Every archived patient gets one CT (3 series of ``ct_slices``), one MR (3 series), one
    XR chest (2 views) and one US abdomen (7 images: 2 multi-frame, 1 RGB). The incoming
    batch holds 2-3 studies per requested kind over different modalities, 4 look-alike
    negatives (if ``negatives``) and 2 unrelated new patients (also labelled ``"negative"``).

    Args:
        out: Output folder; ``out/archive`` and ``out/incoming`` are created.
        patients: Number of archived patients (at least 1).
        seed: Corpus seed; the same seed gives the same bytes.
        ct_slices: Instances per CT series (MR series use ``min(ct_slices, 32)``).
        kinds: Duplicate kinds to inject, a subset of :data:`ALL_KINDS`; ``"negative"`` is
            accepted and means ``negatives=True``.
        negatives: Whether to add look-alike negatives.
        today: Move every study date so the corpus ends on this day (the demo's, so its
            pre-order checks find priors in today's look-back windows): the latest studies
            fall in the last weeks, none after ``today`` (the "2 years apart" negative comes
            before its study instead of after). ``None``: the fixed dates of 2023-2025.

    Returns:
        The corpus, with one label per incoming study.

    Raises:
        ValueError: If ``kinds`` holds an unknown kind.

    """
    wanted = set(kinds)
    if unknown := wanted - set(LABEL_KINDS):
        raise ValueError(f"unknown kinds: {sorted(unknown)}")
    people = _people(seed, max(patients, 1) + 3)
    run = _Run(Path(out), seed, max(ct_slices, 1), today)
    run.incoming.mkdir(parents=True, exist_ok=True)
    _write_archive(run, people[: max(patients, 1)])
    injectors = {"exact": _inject_exact, "same-content": _inject_same_content,
                 "partial": _inject_partial, "near": _inject_near,
                 "repeat": _inject_repeat}  # fmt: skip
    labels = [label for kind in ALL_KINDS if kind in wanted for label in injectors[kind](run)]
    if negatives or "negative" in wanted:
        labels += _inject_negatives(run, people[-3])
    labels += _inject_fresh(run, people[-2:])
    files, size = _tally(run.archive, run.incoming)
    return Corpus(run.archive, run.incoming, tuple(labels), files, size)


def write_labels(corpus: Corpus, path: Path) -> None:
    """Write the ground truth of a corpus as JSON.

    Args:
        corpus: The corpus returned by :func:`make_corpus`.
        path: Target file: ``{"archive_dir", "incoming_dir", "files", "bytes", "labels": [...]}``
            where each label has ``study_uid``, ``kind``, ``duplicate_of`` and ``note``.

    """
    doc = {"archive_dir": str(corpus.archive_dir), "incoming_dir": str(corpus.incoming_dir),
           "files": corpus.files, "bytes": corpus.bytes,
           "labels": [asdict(label) for label in corpus.labels]}  # fmt: skip
    Path(path).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
