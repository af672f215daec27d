"""Copies made by a real Orthanc, as a PACS or a router makes them (for ``dedup eval``).

Each archived study is uploaded to a fresh :class:`~dedup.synth.orthanc.Orthanc`, changed
through its REST API, and the instances the change created are downloaded
(``/instances/{id}/file``) into the corpus incoming folder:

* ``/studies/{id}/anonymize`` (Orthanc's default profile: new UIDs, new name and ID):
  ``same-content``;
* ``/studies/{id}/modify`` replacing the name and the description, ``Force``, new UIDs:
  ``same-content``;
* ``/patients/{id}/modify`` replacing name and ID (Orthanc 1.10 refuses a new PatientID at
  study level), ``Force``, new UIDs: ``same-content``;
* ``/studies/{id}/modify`` keeping the Study UID (new series and SOP Instance UIDs), and
  keeping Study and Series UIDs (new SOP Instance UIDs only): duplicates inside one study,
  labelled ``(X, "same-content", X)``;
* the Study UID kept, then GDCM JPEG 2000 lossy at 20:1: ``(X, "near", X)``.

Orthanc draws its new UIDs at random, so these labels' UIDs change from run to run while
their kinds and sources do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dedup.synth.corpus import Label
from dedup.synth.orthanc import Orthanc
from dedup.synth.tools import free_study, pixel_kind, study_uid, transcode

_LOSSY = ["gdcmconv", "--j2k", "--lossy", "-r", "20"]


@dataclass(frozen=True, slots=True)
class _Change:
    """One REST call on an uploaded study and what its result is labelled."""

    name: str
    note: str
    families: tuple[str, ...]
    level: str  # "studies" or "patients"
    operation: str  # "anonymize" or "modify"
    body: dict[str, Any] = field(default_factory=dict)
    inside: bool = False  # the Study UID is kept: a duplicate inside the archived study
    lossy: bool = False  # then GDCM JPEG 2000 lossy 20:1


_CHANGES = (
    _Change("anonymize", "Orthanc /studies/{id}/anonymize, new UIDs", ("CT",), "studies",
            "anonymize"),
    _Change("modify-study", "Orthanc /studies/{id}/modify, new name, Force, new UIDs", ("US",),
            "studies", "modify", {"Replace": {"PatientName": "ROUTED^COPY",
                                              "StudyDescription": "COPY"}, "Force": True}),
    _Change("modify-patient", "Orthanc /patients/{id}/modify, new name and ID, Force, new UIDs",
            ("XR",), "patients", "modify", {"Replace": {"PatientName": "OTHER^RECORD",
                                                        "PatientID": "ORTHANC-1"},
                                            "Force": True}),
    _Change("keep-study", "Orthanc /modify keeping the Study UID (new series and SOP UIDs)",
            ("MR", "US", "XR", "CT"), "studies", "modify",
            {"Keep": ["StudyInstanceUID"], "Force": True}, inside=True),
    _Change("keep-series", "Orthanc /modify keeping Study and Series UIDs (new SOP UIDs)",
            ("XR", "US", "MR", "CT"), "studies", "modify",
            {"Keep": ["StudyInstanceUID", "SeriesInstanceUID"], "Force": True}, inside=True),
    _Change("keep-study-lossy", "Orthanc /modify keeping the Study UID, then GDCM j2k lossy "
            "20:1", ("CT", "MR", "US", "XR"), "studies", "modify",
            {"Keep": ["StudyInstanceUID"], "Force": True}, inside=True, lossy=True),
)


def _apply(server: Orthanc, change: _Change, folder: Path, dest: Path) -> None:
    """Upload ``folder``, apply ``change``, download the instances it made to ``dest``."""
    server.clear()
    study = server.upload(folder)
    before = set(server.get("/instances"))
    target = study if change.level == "studies" else server.get(f"/studies/{study}")[
        "ParentPatient"]
    server.post(f"/{change.level}/{target}/{change.operation}", change.body)
    server.download(sorted(set(server.get("/instances")) - before), dest)


def _any_study(pool: dict[str, list[tuple[str, Path]]], families: tuple[str, ...],
               seed: int) -> tuple[str, Path] | None:
    studies = next((pool[family] for family in families if pool.get(family)), [])
    return studies[seed % len(studies)] if studies else None


def orthanc_copies(pool: dict[str, list[tuple[str, Path]]], work: Path, incoming: Path,
                   seed: int, labels: list[Label]) -> list[Label]:
    """Make the Orthanc copies of archived studies; the labelled duplicates.

    Args:
        pool: archived studies by modality family (:func:`~dedup.synth.tools.studies_by_modality`).
        work: a scratch folder.
        incoming: the corpus incoming folder the copies are written to.
        seed: the corpus seed (names the folders, picks the source of a copy under new UIDs).
        labels: the labels so far; a copy inside a study avoids studies that already have one.
            A change whose modality families have no (free) study is left out.

    Returns:
        One label per copy.

    Raises:
        RuntimeError: Orthanc is missing or does not start.

    """
    made: list[Label] = []
    with Orthanc() as server:
        for change in _CHANGES:
            picked = (free_study(pool, change.families, [*labels, *made]) if change.inside
                      else _any_study(pool, change.families, seed))
            if picked is None:
                continue  # no study of these families (left without a copy inside)
            uid, folder = picked
            dest = incoming / f"tp-orthanc-{change.name}-{seed}"
            if change.lossy:
                _apply(server, change, folder, work / change.name)
                transcode(work / change.name, dest, _LOSSY)
            else:
                _apply(server, change, folder, dest)
            kind = pixel_kind(folder, dest)
            new = uid if change.inside else study_uid(dest)
            made.append(Label(new, kind, uid, change.note))
        server.clear()
    return made
