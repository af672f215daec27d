"""A hand-built archive with known answers, and reference tables with round numbers."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

from dedup import metrics
from dedup.archive.db import Archive
from dedup.archive.publish import publish
from dedup.config import Settings

D = date
STUDIES = [  # key, uid, patient, date, institution, family, bytes
    (1, "1.2.1", 1, D(2024, 1, 10), "North", "CT HEAD", 1000),
    (2, "1.2.2", 1, D(2024, 2, 1), "North", "CT HEAD", 1000),   # repeat of 1 (and of 3)
    (3, "1.2.3", 1, D(2024, 1, 20), "South", "CT HEAD", 1000),
    (4, "1.2.4", 2, D(2024, 3, 5), "South", "XR CHEST", 400),
    (5, "1.2.5", 2, D(2024, 3, 5), "South", "XR CHEST", 400),   # same-content of 4, partial of 6
    (6, "1.2.6", 2, D(2024, 3, 1), "South", "XR CHEST", 500),
]
DUPLICATES = [  # study, duplicate_of, kind, bytes_reclaimable
    (2, 1, "repeat", 0), (2, 3, "repeat", 0),          # one repeat study, two priors
    (5, 4, "same-content", 400), (5, 6, "partial", 0),  # one duplicate study, two pairs
    (4, 4, "exact", 150),                               # re-sent copies of study 4
]
CHECKS = [  # id, order date, institution, family, [(decided, outcome)]
    ("c1", D(2024, 2, 15), "North", "CT HEAD", [(1, "withdrawn")]),
    ("c2", D(2024, 3, 20), "South", "XR CHEST", [(1, "withdrawn")]),
    ("c3", D(2024, 2, 1), "North", "CT HEAD", [(1, "ordered-anyway")]),
    ("c4", D(2024, 4, 2), "South", "CT HEAD", [(1, "withdrawn"), (2, "ordered-anyway")]),
    ("c5", D(2024, 4, 3), "North", "MR BRAIN", []),
    ("c6", D(2024, 5, 1), "South", "MR KNEE", [(1, "withdrawn")]),  # no cost row in the test
]


def write_table(path: Path, header: list[str], rows: list[list[object]]) -> str:
    """Write a CSV reference table and return its path as a setting value."""
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def round_number_settings(folder: Path) -> Settings:
    """Reference tables with round numbers: CT HEAD $100 / 2 mSv, XR CHEST $10 / 0.1 mSv."""
    notes = ["src", "2026"]
    exam = write_table(folder / "exam.csv", ["family", "code", "cost", "currency", "basis",
                                             "source", "retrieved"],
                       [["CT HEAD", "CPT 70450", 100, "USD", "b", *notes],
                        ["xr chest", "CPT 71046", 10, "usd", "b", *notes]])
    dose = write_table(folder / "dose.csv", ["family", "msv", "basis", "source", "retrieved"],
                       [["CT HEAD", 2, "b", *notes], ["XR CHEST", 0.1, "b", *notes]])
    storage = write_table(folder / "storage.csv", ["item", "value", "unit", "currency",
                                                   "source", "retrieved"],
                          [["price_per_gb_month", 1, "USD per GB-month", "USD", *notes],
                           ["retention_years", 1, "y", "", *notes],
                           ["bytes_per_gb", 100, "bytes", "", *notes]])
    return Settings(exam_costs=exam, effective_doses=dose, storage_costs=storage)


def build_archive(path: Path) -> Path:
    """A published archive at ``path`` holding exactly the rows above."""
    with Archive.open(path) as archive:
        _insert_all(archive)
        publish(archive)
    return path


def facts_of(path: Path, filters: metrics.Filters | None = None) -> metrics.Facts:
    """The metric facts of the published snapshot of ``path``."""
    with metrics.published(path) as archive:
        return metrics.facts(archive, filters)


def _insert_all(archive: Archive) -> None:
    for key, uid, patient, day, institution, family, size in STUDIES:
        archive.execute("INSERT INTO studies (study_key, study_uid, patient_key, study_date, "
                        "institution, modalities, n_series, n_instances, bytes, first_run, "
                        "last_run) VALUES (?, ?, ?, ?, ?, ?, 1, 1, ?, 1, 1)",
                        [key, uid, patient, day, institution, family.split()[0], size])
        archive.execute("INSERT INTO study_procedures (study_key, family, known, rule, "
                        "mapping) VALUES (?, ?, true, 'test', 'x')", [key, family])
    for patient in (1, 2):
        archive.execute("INSERT INTO patients (patient_key, issuer, patient_id) VALUES "
                        "(?, 'X', ?)", [patient, f"MRN00{patient}4567"])
    uid = dict((s[0], s[1]) for s in STUDIES)
    for study, prior, kind, size in DUPLICATES:
        archive.execute("INSERT INTO duplicates VALUES (?, ?, ?, 1.0, ?, ?, ?, ?, ?, 1, '{}', 1)",
                        [uid[study], uid[prior], kind, size, datetime(2026, 1, 1), study, prior,
                         study])
    for check_id, day, institution, family, decisions in CHECKS:
        archive.execute("INSERT INTO checks VALUES (?, ?, 'test', 'http', 'p', ?, ?, ?, 90, ?, "
                        "1, '[]', 'prior-found', 1.0)",
                        [check_id, datetime(2024, 1, 1), family, family.split()[0], day,
                         institution])
        for minute, outcome in decisions:
            archive.execute("INSERT INTO outcomes VALUES (?, ?, ?, NULL, 'test', 'http')",
                            [check_id, datetime(2024, 1, 1, 0, minute), outcome])
    archive.execute("INSERT INTO runs (run_id, command, started_at, ended_at, status, "
                    "version, instances) VALUES (1, 'index', ?, ?, 'ok', 'test', 6)",
                    [datetime(2026, 1, 1), datetime(2026, 1, 1, 0, 5)])
