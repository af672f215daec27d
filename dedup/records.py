"""Typed records and closed vocabularies shared by every stage."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DuplicateKind(StrEnum):
    """The duplicate vocabulary of DESIGN.md, used verbatim everywhere."""

    EXACT = "exact"
    SAME_CONTENT = "same-content"
    PARTIAL = "partial"
    NEAR = "near"
    REPEAT = "repeat"


class QuarantineReason(StrEnum):
    """Why an input could not be indexed. Values are stable: tables and reports use them."""

    NOT_DICOM = "not-dicom"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"
    MISSING_UID = "missing-uid"
    UNREADABLE = "unreadable"
    ZIP_BOMB = "zip-bomb"
    BAD_ZIP = "bad-zip"
    PIXEL_LENGTH = "pixel-length"
    DECODE_FAILED = "decode-failed"
    NOT_A_FILE = "not-a-file"  # a FIFO, device, socket or folder where a file was expected
    TOO_LARGE = "too-large"  # larger than the max_file_bytes setting
    OUTSIDE_SOURCE = "outside-source"  # a link or DICOMDIR reference leaving the source


@dataclass(frozen=True, slots=True)
class Location:
    """Where a file lives: a plain path, or a member inside a zip (``member`` set)."""

    path: str
    member: str | None = None
    size: int = 0
    mtime: float = 0.0

    @property
    def key(self) -> str:
        """The stable text form stored in the archive (``zip!member`` for zip members)."""
        return self.path if self.member is None else f"{self.path}!{self.member}"


@dataclass(frozen=True, slots=True)
class Instance:
    """One indexed DICOM instance: identity, descriptive header fields and fingerprints."""

    location: Location
    file_hash: bytes
    sop_uid: str
    sop_class_uid: str
    study_uid: str
    series_uid: str
    transfer_syntax: str
    patient_id: str
    issuer: str
    patient_name: str
    birth_date: str
    sex: str
    institution: str
    study_date: str
    study_time: str
    accession: str
    study_description: str
    series_description: str
    modality: str
    body_part: str
    procedure_code: str
    series_number: int | None
    instance_number: int | None
    rows: int
    columns: int
    frames: int
    pixel_hash: bytes | None
    tokens: tuple[str, ...]
    blank: bool = False  # constant pixels (min == max): ignored when comparing pixel sets
    detail: bytes | None = None  # acquisition signature (fingerprint.detail), None: no pixels
    look: int | None = None  # 64 bits of the coarse image, for candidate bands (ditto)
    laterality: str = ""  # L, R, B, U from the tags (ingest.laterality), "": none given


@dataclass(frozen=True, slots=True)
class Quarantined:
    """An input that could not be indexed, with the reason and a PHI-free detail."""

    location: Location
    reason: QuarantineReason
    detail: str


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What one `dedup index` run did; the JSON form is a stable interface."""

    run_id: int
    status: str
    studies: int
    series: int
    instances: int
    skipped: int
    recognised: int
    quarantined: int
    bytes: int
    files: int
    seconds: float
    quarantine_reasons: dict[str, int]
    duplicates: dict[str, int]  # new duplicate rows found by matching, by kind
    conflicts: int = 0  # instances whose SOP Instance UID was archived with other pixels

    def as_dict(self) -> dict[str, object]:
        """Return the summary as plain JSON-serialisable values."""
        return {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]
