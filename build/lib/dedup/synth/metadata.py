"""A metadata-only synthetic archive, generated in SQL, for the check service at scale.

:mod:`dedup.synth` writes real DICOM files, which is right for the pipeline but far too slow
for an archive of a million patients. The pre-order check reads only metadata (patients,
studies, procedure families, patient links), so :func:`make_metadata_archive` fills those
tables directly with DuckDB's generators: 1M patients and 5M studies take well under a minute.

Every person gets a record at one institution; a share of them (``linked_share``) also has a
record at another institution under a spelling of the same name, with the linked pair in
``patient_links`` as the linkage model would have stored it. Names are invented from short
word lists (never real people); everything derives from ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from dedup.archive.db import Archive
from dedup.archive.publish import publish
from dedup.match.procedures import load_mapping

_FAMILIES = ("NOVAK", "OKAFOR", "MARSH", "CASTILLO", "WEISS", "BOEHM", "MUELLER", "SCHMIDT",
             "GARCIA", "NGUYEN", "SILVA", "KOWALSKI", "HANSEN", "ROSSI", "DUBOIS", "TANAKA",
             "IVANOV", "OSEI", "LARSEN", "MORENO", "KELLY", "BRENNAN", "FISCHER", "PETROV",
             "SANTOS", "YILMAZ", "COHEN", "HAMID", "LINDQVIST", "ABARA", "QUINN", "VARGA")
_GIVEN = ("DANIEL", "ANNA", "LENA", "PETER", "INGRID", "KARL", "MARTA", "OLE", "HANS",
          "SOFIA", "JONAS", "MAYA", "LUCA", "NORA", "EMIL", "IDA", "FELIX", "CLARA", "OMAR",
          "AMARA", "KENJI", "ZOE", "MILAN", "RUTH", "IVAN", "LEA", "TOMAS", "ELIF")
_INSTITUTIONS = (("STMARY", "St. Mary Hospital"), ("KLINORD", "Klinikum Nord"),
                 ("RIVERSIDE", "Riverside Imaging Center"))
FIRST_STUDY = date(2020, 1, 1)
STUDY_SPAN_DAYS = 6 * 365


@dataclass(frozen=True, slots=True)
class MetadataArchive:
    """What was generated, and where it was published."""

    path: Path
    patients: int
    studies: int
    links: int


def make_metadata_archive(path: str | Path, *, persons: int, studies_per_record: int = 5,
                          linked_share: float = 0.25, seed: int = 0,
                          publish_snapshot: bool = True) -> MetadataArchive:
    """Create (replacing) a metadata-only archive at ``path`` and publish it.

    Args:
        path: the DuckDB file to create.
        persons: invented people; each has one record, ``linked_share`` of them two.
        studies_per_record: studies per patient record.
        linked_share: share of persons with a second, linked record elsewhere.
        seed: same seed, same archive.
        publish_snapshot: publish a snapshot for readers when done.

    """
    path = Path(path)
    path.unlink(missing_ok=True)
    mapping = load_mapping()
    with Archive.open(path) as archive, archive.transaction():
        archive.run("progress_bar_off")
        archive.run("synth_patients", {
            "persons": persons, "seed": seed, "share": linked_share,
            "families": list(_FAMILIES), "given": list(_GIVEN),
            "issuers": [issuer for issuer, _ in _INSTITUTIONS],
            "institutions": [name for _, name in _INSTITUTIONS]})
        archive.script("synth_patient_links")
        archive.run("synth_study_families", {
            "per": studies_per_record, "seed": seed, "first": FIRST_STUDY,
            "span": STUDY_SPAN_DAYS, "families": sorted(mapping.windows),
            "mapping": mapping.version})
        archive.script("synth_studies")
        counts = archive.run("synth_counts").row(0)
    if publish_snapshot:
        with Archive.open(path) as archive:
            publish(archive)
    return MetadataArchive(path, *counts)


def sample_questions(archive: Archive, count: int, seed: int = 0) -> list[dict[str, str]]:
    """Questions that have a prior: random studies, each asked about a week after it."""
    rows = archive.run("synth_questions", {"seed": seed, "count": count})
    return [{"name": row["name"], "birth_date": row["birth_date"].isoformat(),
             "sex": row["sex"], "procedure": row["family"],
             "order_date": (row["study_date"] + timedelta(days=7)).isoformat()}
            for row in rows.iter_rows(named=True)]
