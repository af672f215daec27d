from __future__ import annotations

import itertools
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dedup.archive.db import Archive
from dedup.archive.publish import PublishedReader
from dedup.check import Checker
from dedup.check.link import Person, sex_code
from dedup.check.prior_index import (
    PriorIndex,
    Query,
    build_index,
    day_number,
    load_index,
    save_index,
)
from dedup.errors import ArchiveError
from dedup.match.linkage import normalise_name
from tests.check.archive import BORN, ORDER_DATE, PRIORS_OF_HANS, RECORDS

HANS_QUERY = Query(Person(normalise_name("MUELLER^HANS"), 1), day_number(BORN))


def read_index(archive: Path, birth_date: date | None = None) -> PriorIndex:
    reader = PublishedReader(archive)
    try:
        return build_index(reader.archive(), birth_date, threads=1)
    finally:
        reader.close()


def lookup(index: PriorIndex) -> list[str]:
    matches = index.people(HANS_QUERY, prior=1e-5, threshold=0.99)
    return [row["study_uid"] for row in
            index.priors(matches, "CT HEAD", day_number(ORDER_DATE), 90)]


def test_records_are_found_directly_and_through_the_archives_links(archive: Path) -> None:
    index = read_index(archive)
    matches = index.people(HANS_QUERY, prior=1e-5, threshold=0.99)
    linked = [m for m in matches if m.reasons[0] == "linked in the archive to a matching record"]
    assert (len(matches), len(linked)) == (3, 1)
    assert lookup(index) == PRIORS_OF_HANS


def test_an_index_of_one_birth_date_holds_only_the_records_born_that_day(archive: Path) -> None:
    assert read_index(archive, BORN).patients == len(RECORDS)
    assert read_index(archive, date(1961, 7, 1)).patients == 0


def test_a_saved_index_loads_back_mapped_and_answers_the_same(archive: Path,
                                                              tmp_path: Path) -> None:
    built = read_index(archive)
    save_index(built, tmp_path)
    loaded = load_index(tmp_path)
    assert (loaded.generation, loaded.patients, loaded.studies) == (
        built.generation, built.patients, built.studies)
    assert loaded.arrays.keys() == built.arrays.keys()
    for name, array in built.arrays.items():
        mapped = loaded.arrays[name]
        if isinstance(array, np.ndarray):
            assert isinstance(mapped, np.memmap) and np.array_equal(mapped, array), name
        elif isinstance(array, pa.ChunkedArray | pa.Array):
            assert mapped.to_pylist() == array.to_pylist(), name
        else:
            assert mapped == array, name
    assert lookup(loaded) == lookup(built) == PRIORS_OF_HANS


# Any optional attribute of a record may be missing or malformed, in any combination: the
# index takes them all, patients and studies agree, and every answer is what the rows say.
_ORDER_DAY = day_number(date(2024, 6, 1))
_BIRTHS = [None, date(1950, 3, 14), date(1950, 3, 14), date(1988, 1, 2), date(1, 1, 1),
           date(9999, 12, 31)]
_SEXES = [None, "", "M", "F", "O", "male", "female", "x", " m "]
_NAMES = [None, "", "^^^", "DOE^JOHN", "MUELLER^HANS", "\x1b[31mRED^EVIL", "Müller^Hans",
          "=^=^"]
_DATES = [None, date(2024, 5, 30), date(2024, 3, 1), date(2023, 1, 1), date(2024, 6, 20),
          date(2024, 3, 3), date(2024, 3, 2), date(2024, 6, 1), date(2024, 6, 2),  # the edges
          date(1, 1, 1), date(9999, 12, 31)]
_TEXTS = [None, "", "CT", "\x00\n", "Ärztehaus"]
#: (family, rule): a family with rule 'none' (a class and nothing else) is never a prior.
_FAMILIES = [("CT HEAD", "description"), ("XR KNEE", "description"), ("CT FOOT", "fallback"),
             ("CT OTHER", "none")]
_SIDES = [None, "L", "R", "B", "U"]
_SIDE_CODE = {None: 0, "L": 1, "R": 2, "B": 3, "U": 4}

patient_rows = st.tuples(st.sampled_from(_BIRTHS), st.sampled_from(_SEXES),
                         st.sampled_from(_NAMES), st.sampled_from(_TEXTS))
study_rows = st.tuples(st.integers(0, 9), st.sampled_from(_DATES), st.sampled_from(_FAMILIES),
                       st.sampled_from(_TEXTS), st.sampled_from(_TEXTS), st.sampled_from(_SIDES))


@pytest.fixture(scope="module")
def empty_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive with the schema and nothing else (copied per example: faster than a new one)."""
    path = tmp_path_factory.mktemp("empty") / "archive.duckdb"
    with Archive.open(path):
        pass
    return path


def _archive_of(path: Path, patients: list[tuple[Any, ...]], studies: list[tuple[Any, ...]],
                links: list[tuple[int, int, bool]]) -> None:
    """Write the rows to an archive (studies and links may name patients without a record).

    ``links`` as :func:`_pairs` makes them: one row per pair, as the archive holds them.
    """
    with Archive.open(path) as archive, archive.transaction():
        for key, (born, sex, name, institution) in enumerate(patients):
            archive.execute("INSERT INTO patients VALUES (?, 'ISS', ?, ?, ?, ?, ?)",
                            [key, f"ID{key}", name, born, sex, institution])
        for key, (owner, when, (family, rule), text, modality, side) in enumerate(studies):
            archive.execute(
                "INSERT INTO studies (study_key, study_uid, patient_key, study_date, "
                "description, institution, modalities, n_series, n_instances, bytes, first_run, "
                "last_run) VALUES (?, ?, ?, ?, ?, ?, ?, 1, 1, 1, 1, 1)",
                [key, f"2.25.{key}", owner, when, text, text, modality])
            archive.execute("INSERT INTO study_procedures (study_key, family, known, rule, "
                            "mapping, laterality) VALUES (?, ?, ?, ?, 'test', ?)",
                            [key, family, rule == "description", rule, side])
        for a, b, linked in links:
            archive.execute("INSERT INTO patient_links VALUES (?, ?, 0.999, 10, ?, "
                            "'[\"test\"]', 1)", [a, b, linked])


@settings(max_examples=40, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(patients=st.lists(patient_rows, min_size=1, max_size=8),
       studies=st.lists(study_rows, max_size=14),
       links=st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9), st.booleans()),
                      max_size=6))
@example(patients=[(None, None, None, None)] * 2 + [(date(1950, 3, 14), None, None, None)]
         + [(None, None, None, None)] * 2 + [(date(1950, 3, 14), None, None, None)],
         studies=[], links=[(2, 5, True), (2, 5, False)])  # a pair said twice: the last holds
def test_any_mix_of_missing_or_malformed_attributes_is_indexed(
        tmp_path_factory: pytest.TempPathFactory, empty_archive: Path,
        patients: list[tuple[Any, ...]], studies: list[tuple[Any, ...]],
        links: list[tuple[int, int, bool]]) -> None:
    path = tmp_path_factory.mktemp("mixed") / "archive.duckdb"
    shutil.copyfile(empty_archive, path)
    links = _pairs(links)  # what the archive holds is what the answers are checked against
    _archive_of(path, patients, studies, links)
    with Archive.open(path, read_only=True) as archive:
        index = build_index(archive, threads=1)
        dated = {key for key, row in enumerate(patients) if row[0] is not None}
        assert index.patients == len(dated)
        ids = index.arrays["patient_id"].to_pylist()
        assert [sex_code(patients[int(i[2:])][1]) for i in ids] == index.arrays["sex"].tolist()
        assert index.studies == sum(1 for owner, when, (_, rule), *_ in studies
                                    if owner in dated and when is not None and rule != "none")
        for key in sorted(dated):
            _assert_answers(index, key, patients, studies, links)
        for born in {patients[key][0] for key in dated}:
            one_off = build_index(archive, born, threads=1)
            assert one_off.patients == sum(1 for p in patients if p[0] == born)
            for key in (k for k in dated if patients[k][0] == born):
                _assert_answers(one_off, key, patients, studies, links, one_off=True)


def _pairs(links: list[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
    """One link per pair of distinct records, smaller key first; the last said of a pair wins."""
    return list({(min(a, b), max(a, b)): (min(a, b), max(a, b), linked)
                 for a, b, linked in links if a != b}.values())


def _assert_answers(index: PriorIndex, key: int, patients: list[tuple[Any, ...]],
                    studies: list[tuple[Any, ...]], links: list[tuple[int, int, bool]], *,
                    one_off: bool = False) -> None:
    """The record asked for by issuer and ID, its linked records, and exactly their priors.

    A one-off index holds one birth date: links to a record born another day are not in it.
    """
    born, sex = patients[key][0], patients[key][1]
    query = Query(Person(normalise_name("QXZ^VYW"), sex_code(sex), "ISS"), day_number(born),
                  f"ID{key}")
    matches = index.people(query, prior=1e-5, threshold=0.99)
    ids = index.arrays["patient_id"].to_pylist()
    keys = {int(ids[m.row][2:]) for m in matches}
    linked = {b if a == key else a for a, b, ok in links
              if ok and key in (a, b) and a != b and max(a, b) < len(patients)
              and patients[a if b == key else b][0] in ((born,) if one_off else _BIRTHS[1:])}
    assert {key} | linked <= keys and all(patients[k][0] == born or k in linked for k in keys)
    for (family, _), asked in itertools.product(_FAMILIES, range(4)):
        found = index.priors(matches, family, _ORDER_DAY, 90, asked)
        expected = sorted(
            (-day_number(when), f"2.25.{n}", _SIDE_CODE[side])
            for n, (owner, when, (f, rule), _, _, side) in enumerate(studies)
            if owner in keys and rule != "none" and f == family and when is not None
            and 0 <= _ORDER_DAY - day_number(when) <= 90
            and not (asked in (1, 2) and _SIDE_CODE[side] == 3 - asked))
        assert [(-p["study_day"], p["study_uid"], p["side"]) for p in found] == expected


def test_a_snapshot_of_an_older_schema_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "archive.duckdb"
    with Archive.open(path) as archive:
        newest = archive.schema_version()
        archive.execute("DELETE FROM schema_version WHERE version = ?", [newest])
    with Archive.open(path, read_only=True) as archive, \
            pytest.raises(ArchiveError, match="run `dedup index`"):
        build_index(archive, threads=1)


def test_a_registration_finds_its_record_and_the_records_linked_to_it(checker: Checker
                                                                     ) -> None:
    index = checker.holder.born_on(BORN)
    found = index.registered("STMARY", "SM-1")
    assert [m.reasons[0] for m in found] == ["same issuer and patient ID",
                                             "linked in the archive to a matching record"]
    assert index.registered("KLINORD", "SM-1") == []  # an ID is its issuer's
    assert index.registered("", "SM-1") == [] and index.registered("STMARY", "") == []
    day = day_number(date(2024, 1, 1))
    rows = index.studies_of(found, day, day + 45)
    assert [(r["study_uid"], r["family"]) for r in rows] == [
        ("1.2.3.8", "CT FOOT"), ("1.2.3.3", "CT CHEST"), ("1.2.3.4", "CT HEAD"),
        ("1.2.3.1", "CT HEAD")]
