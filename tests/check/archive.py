"""A small, hand-made archive for the pre-order check: one person under several records.

Hans Mueller (born 1950-03-14, male) has records at three institutions: St. Mary
(``MUELLER^HANS``), Klinikum Nord (``Schmidt^Hans^Friedrich`` after a name change: only the
batch's link to St. Mary connects it) and Riverside (``HANS^MUELLER``, swapped: not linked by
the batch, but the check's own model links it).
His twin brother Karl and a namesake of the other sex share his birth date and must never
count as him. Keys come from the archive's sequences, so ``dedup index`` can add to it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from dedup.archive.db import Archive
from dedup.archive.publish import publish
from dedup.check import Channel, Checker, CheckResult
from dedup.match.procedures import load_mapping

BORN = date(1950, 3, 14)
ORDER_DATE = date(2024, 2, 15)
#: record name -> (issuer, patient id, name, sex, institution)
RECORDS = {
    "stmary": ("STMARY", "SM-1", "MUELLER^HANS", "M", "St. Mary Hospital"),
    "klinord": ("KLINORD", "KN-1", "Schmidt^Hans^Friedrich", "M", "Klinikum Nord"),
    "riverside": ("RIVERSIDE", "RV-1", "HANS^MUELLER", "M", "Riverside Imaging Center"),
    "twin": ("STMARY", "SM-2", "MUELLER^KARL", "M", "St. Mary Hospital"),
    "namesake": ("KLINORD", "KN-2", "MUELLER^HANS", "F", "Klinikum Nord"),
    "other": ("STMARY", "SM-3", "OKAFOR^ANNA", "F", "St. Mary Hospital"),
}
#: (record, study uid, study date, family, known)
STUDIES = [
    ("stmary", "1.2.3.1", date(2024, 1, 10), "CT HEAD", True),
    ("stmary", "1.2.3.2", date(2023, 1, 1), "CT HEAD", True),     # outside 90 days
    ("stmary", "1.2.3.3", date(2024, 2, 1), "CT CHEST", True),    # another family
    ("klinord", "1.2.3.4", date(2024, 2, 1), "CT HEAD", True),
    ("riverside", "1.2.3.5", date(2023, 12, 20), "CT HEAD", True),
    ("twin", "1.2.3.6", date(2024, 2, 10), "CT HEAD", True),      # the twin's: never
    ("namesake", "1.2.3.7", date(2024, 2, 10), "CT HEAD", True),  # other sex: never
    ("stmary", "1.2.3.8", date(2024, 2, 12), "CT FOOT", False),   # fallback family: never
    ("stmary", "1.2.3.9", date(2024, 2, 18), "CT HEAD", True),    # after the order date: never
]
PRIORS_OF_HANS = ["1.2.3.4", "1.2.3.1", "1.2.3.5"]  # most recent first
LOCATION = "/srv/dicom/stmary/1.2.3.1"
#: Hans's demographics, as a question gives them.
HANS = {"name": "MUELLER^HANS", "birth_date": BORN.isoformat(), "sex": "M"}


def build_check_archive(path: Path) -> Path:
    """Create, fill and publish the archive; returns its path."""
    with Archive.open(path) as archive, archive.transaction():
        run = archive.scalar("INSERT INTO runs (run_id, command, started_at, status, version) "
                             "VALUES (nextval('run_ids'), 'test', now(), 'ok', 'test') "
                             "RETURNING run_id")
        keys = {}
        for record, (issuer, pid, name, sex, institution) in RECORDS.items():
            keys[record] = archive.scalar(
                "INSERT INTO patients VALUES (nextval('patient_keys'), ?, ?, ?, ?, ?, ?) "
                "RETURNING patient_key", [issuer, pid, name, BORN, sex, institution])
        for record, uid, when, family, known in STUDIES:
            study = archive.scalar(
                "INSERT INTO studies (study_key, study_uid, patient_key, study_date, "
                "description, institution, modalities, body_part, n_series, n_instances, "
                "bytes, first_run, last_run) VALUES (nextval('study_keys'), ?, ?, ?, ?, ?, "
                "'CT', '', 1, 2, 1000, ?, ?) RETURNING study_key",
                [uid, keys[record], when, family, RECORDS[record][4], run, run])
            archive.execute("INSERT INTO study_procedures (study_key, family, known, rule, "
                            "mapping, region, laterality) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [study, family, known, "description" if known else "fallback",
                             load_mapping().version, family.split()[-1] if known else None,
                             "U" if known else None])
            if uid == "1.2.3.1":
                for n in (1, 2):
                    archive.execute(
                        "INSERT INTO instances (instance_key, sop_uid, series_key, study_key, "
                        "file_hash, bytes, location, run_id) VALUES (nextval('instance_keys'),"
                        " ?, 1, ?, '\\x00'::BLOB, 500, ?, ?)",
                        [f"{uid}.{n}", study, f"{LOCATION}/{n}/1.dcm", run])
        for key in keys.values():  # linkage done: a later batch keeps these decisions
            archive.execute("INSERT INTO linked_patients VALUES (?, ?)", [key, run])
        a, b = sorted((keys["stmary"], keys["klinord"]))
        archive.execute("INSERT INTO patient_links VALUES (?, ?, 0.9998, 12.3, true, "
                        "'[\"birth date equal\", \"name: middle name missing or different\", "
                        "\"sex equal\"]', ?)", [a, b, run])
    with Archive.open(path) as archive:
        publish(archive)
    return path


def ask(checker: Checker, **fields: object) -> CheckResult:
    """Ask whether Hans (or who ``fields`` name) had a CT HEAD before the order date."""
    question = checker.parse(**{**HANS, "procedure": "CT HEAD",
                                "order_date": ORDER_DATE.isoformat(), **fields})
    return checker.check(question, client="test", channel=Channel.LIBRARY)
