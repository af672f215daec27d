from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from dedup.archive.publish import PublishedReader
from dedup.check.link import Person
from dedup.check.prior_index import (
    PriorIndex,
    Query,
    build_index,
    day_number,
    load_index,
    save_index,
)
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
