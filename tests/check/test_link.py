from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from dedup.archive.db import Archive
from dedup.check.link import Person, decide, jaro_winkler, sex_code
from dedup.match.linkage import normalise_name, score_pairs
from tests.check.archive import BORN

PAIRS = [("MUELLER^HANS", "Müller^Hans"), ("MUELLER^HANS^FRIEDRICH", "Müller^Hans"),
         ("MUELLER^HANS", "HANS^MUELLER"), ("KOWALSKI^PETER", "KOWLASKI^PETER"),
         ("MUELLER^HANS", "MUELLER^KARL"), ("MUELLER^HANS", "SCHMIDT^HANS"),
         ("SCHROEDER^ANNA^MARIA", "ANNA^SCHRÖDER"), ("NOVAK^DANIEL", "NOWAK^DANIELA"),
         ("GARCIA^SOFIA", "GARCIA"), ("LINDQVIST^EMIL", "LINDQUIST^EMIL")]


def test_check_model_agrees_with_the_batch_linkage_model() -> None:
    rows = []
    for n, (a, b) in enumerate(PAIRS):
        born = BORN + timedelta(days=n)
        rows += [(2 * n + 1, "STMARY", a, born, "M", False), (2 * n + 2, "KLINORD", b, born,
                                                                 "M", True)]
    frame = pl.DataFrame(rows, schema=["patient_key", "issuer", "name", "birth_date", "sex",
                                       "is_new"], orient="row")
    batch = {row["patient_key_a"]: row for row in
             score_pairs(frame, prior=1e-5, threshold=0.99).iter_rows(named=True)}
    for n, (a, b) in enumerate(PAIRS):
        mine = decide(Person(normalise_name(a), 1, "STMARY"),
                      Person(normalise_name(b), 1, "KLINORD"), prior=1e-5, threshold=0.99)
        theirs = batch[2 * n + 1]
        assert mine.linked == theirs["linked"], (a, b, mine, theirs)
        assert mine.probability == pytest.approx(theirs["match_probability"], rel=1e-6)


def test_jaro_winkler_is_duckdbs(tmp_path: Path) -> None:
    words = ["MUELLER", "MULLER", "KOWALSKI", "KOWLASKI", "HANS", "HANZ", "DWAYNE", "DUANE",
             "LINDQVIST", "LINDQUIST", "A", "AB"]
    pairs = [(a, b) for a in words for b in words]
    with Archive.open(tmp_path / "jw.duckdb") as db:
        theirs = db.query("SELECT jaro_winkler_similarity(a, b) AS s FROM (VALUES "
                          + ", ".join(f"('{a}', '{b}')" for a, b in pairs) + ") AS t(a, b)")
    for (a, b), expected in zip(pairs, theirs["s"].to_list(), strict=True):
        assert jaro_winkler(a, b) == pytest.approx(expected), (a, b)


def test_sex_codes() -> None:
    assert [sex_code(s) for s in ("M", "female", "O", "", None)] == [1, 2, 0, 0, 0]
