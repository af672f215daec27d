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
    families = sorted(load_mapping().windows)
    with Archive.open(path) as archive, archive.transaction():
        archive.execute("SET enable_progress_bar = false")
        archive.execute(_patients_sql(), {"persons": persons, "seed": seed,
                                          "share": linked_share})
        archive.execute(_links_sql())
        archive.execute(_families_sql(families), {"per": studies_per_record, "seed": seed,
                                                   "first": FIRST_STUDY,
                                                   "span": STUDY_SPAN_DAYS})
        archive.execute(_studies_sql(), {"seed": seed})
        archive.execute("INSERT INTO study_procedures SELECT study_key, family, true, "
                        "'description', ? FROM synthetic_families", [load_mapping().version])
        archive.execute("DROP TABLE synthetic_families")
        _mark_done(archive)
        counts = [int(archive.scalar(f"SELECT count(*) FROM {t}"))
                  for t in ("patients", "studies", "patient_links")]
    if publish_snapshot:
        with Archive.open(path) as archive:
            publish(archive)
    return MetadataArchive(path, *counts)


def _mark_done(archive: Archive) -> None:
    """Record a finished run that linked and matched everything, so a batch adds to it."""
    run = archive.scalar("INSERT INTO runs (run_id, command, started_at, ended_at, status, "
                         "version) VALUES (nextval('run_ids'), 'synth-metadata', now(), now(), "
                         "'ok', 'synthetic') RETURNING run_id")
    archive.execute("INSERT INTO linked_patients SELECT patient_key, ? FROM patients", [run])
    archive.execute("INSERT INTO matched_studies SELECT study_key, n_instances, ?, now() "
                    "FROM studies", [run])
    for name in ("patient_keys", "study_keys"):  # later batches continue after these keys
        table = "patients" if name == "patient_keys" else "studies"
        column = name.removesuffix("s")
        archive.execute(f"SELECT nextval('{name}') FROM range((SELECT max({column}) "
                        f"FROM {table}))")


def _words(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def _patients_sql() -> str:
    """One record per person, a second (name spelled as another site would) for a share."""
    return f"""
    INSERT INTO patients
    WITH hashed AS (SELECT i AS person, hash(i, $seed) AS h FROM range($persons) AS t(i)),
    people AS (
        SELECT person, h,
               {_words(_FAMILIES)}[1 + (h % {len(_FAMILIES)})::INTEGER] AS fam,
               {_words(_GIVEN)}[1 + (h // 32 % {len(_GIVEN)})::INTEGER] AS giv,
               DATE '1930-01-01' + (h // 1024 % 32000)::INTEGER AS born,
               CASE WHEN h // 32768000 % 2 = 0 THEN 'M' ELSE 'F' END AS sex
        FROM hashed
    ),
    records AS (
        SELECT person, 0 AS copy, (h // 131072000 % 3)::INTEGER AS site, fam || '^' || giv AS name,
               born, sex FROM people
        UNION ALL
        SELECT person, 1, ((h // 131072000 % 3 + 1) % 3)::INTEGER,
               fam[1] || lower(fam[2:]) || '^' || giv[1] || lower(giv[2:]) || '^J', born, sex
        FROM people WHERE (h // 65536000 % 1000) < $share * 1000
    )
    SELECT row_number() OVER (ORDER BY person, copy) AS patient_key,
           {_words(tuple(i for i, _ in _INSTITUTIONS))}[site + 1] AS issuer,
           {_words(tuple(i for i, _ in _INSTITUTIONS))}[site + 1] || '-' || person AS patient_id,
           name, born, sex,
           {_words(tuple(n for _, n in _INSTITUTIONS))}[site + 1] AS institution
    FROM records
    """


def _links_sql() -> str:
    """The pair of records of one person are neighbours in key order (same ID suffix)."""
    return """
    INSERT INTO patient_links
    SELECT patient_key, next_key, 0.99978, 12.2, true,
           '["birth date equal", "name: middle name missing or different", "sex equal"]', NULL
    FROM (SELECT patient_key, split_part(patient_id, '-', 2) AS person,
                 lead(patient_key) OVER (ORDER BY patient_key) AS next_key,
                 lead(split_part(patient_id, '-', 2)) OVER (ORDER BY patient_key) AS next_person
          FROM patients)
    WHERE person = next_person
    """


def _families_sql(families: list[str]) -> str:
    return f"""
    CREATE TEMP TABLE synthetic_families AS
    SELECT p.patient_key, p.institution,
           row_number() OVER (ORDER BY p.patient_key, k) AS study_key,
           {_words(tuple(families))}[1 + (hash(p.patient_key, k, $seed)
                                           % {len(families)})::INTEGER] AS family,
           $first + (hash(p.patient_key, k, $seed, 9) % $span)::INTEGER AS study_date
    FROM patients AS p, range($per) AS t(k)
    """


def _studies_sql() -> str:
    return """
    INSERT INTO studies (study_key, study_uid, patient_key, study_date, description,
                         institution, modalities, body_part, n_series, n_instances, bytes,
                         first_run, last_run)
    SELECT study_key,
           '1.2.826.0.1.3680043.8.498.' || (hash(study_key, $seed) % 1000000000000000)
               || '.' || study_key,
           patient_key, study_date, family, institution, split_part(family, ' ', 1),
           split_part(family, ' ', 2), 1, 1, 0, 1, 1
    FROM synthetic_families
    """


def sample_questions(archive: Archive, count: int, seed: int = 0) -> list[dict[str, str]]:
    """Questions that have a prior: random studies, each asked about a week after it."""
    rows = archive.query(
        "SELECT p.name, p.birth_date, p.sex, sp.family, s.study_date FROM studies AS s "
        "JOIN patients AS p USING (patient_key) JOIN study_procedures AS sp USING (study_key) "
        "WHERE hash(s.study_key, $seed) % $every = 0 ORDER BY hash(s.study_key, $seed) "
        "LIMIT $count",
        {"seed": seed, "count": count,
         "every": max(1, int(archive.scalar("SELECT count(*) FROM studies")) // (count * 4))})
    return [{"name": row["name"], "birth_date": row["birth_date"].isoformat(),
             "sex": row["sex"], "procedure": row["family"],
             "order_date": (row["study_date"] + timedelta(days=7)).isoformat()}
            for row in rows.iter_rows(named=True)]
