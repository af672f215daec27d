from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest

from dedup.match.linkage import normalise_name, score_pairs

BORN = date(1950, 3, 14)


def link(a: tuple[str, str, date, str], b: tuple[str, str, date, str]) -> dict[str, object]:
    rows = [(1, *a[:1], a[1], a[2], a[3], False), (2, *b[:1], b[1], b[2], b[3], True)]
    frame = pl.DataFrame(rows, schema=["patient_key", "issuer", "name", "birth_date", "sex",
                                       "is_new"], orient="row")
    result = score_pairs(frame, prior=1e-5, threshold=0.99)
    if result.is_empty():
        return {"linked": False, "reasons": []}
    row = result.row(0, named=True)
    return row | {"reasons": json.loads(row["reasons"])}


@pytest.mark.parametrize(("name_a", "name_b"), [
    ("MUELLER^HANS", "Müller^Hans"),
    ("MUELLER^HANS^FRIEDRICH", "Müller^Hans"),          # missing middle name
    ("MUELLER^HANS", "HANS^MUELLER"),                   # swapped parts
    ("SCHROEDER^ANNA^MARIA", "ANNA^SCHRÖDER"),           # swapped and middle missing
    ("KOWALSKI^PETER", "KOWLASKI^PETER"),               # transposition typo
    ("Weiß^Lena", "WEISS^LENA"),
])
def test_the_same_person_across_institutions_is_linked(name_a: str, name_b: str) -> None:
    result = link(("STMARY", name_a, BORN, "M"), ("KLINORD", name_b, BORN, "M"))
    assert result["linked"], result["reasons"]
    assert result["match_probability"] >= 0.99


def test_a_twin_is_not_linked() -> None:
    result = link(("STMARY", "MUELLER^HANS", BORN, "M"), ("KLINORD", "MUELLER^KARL", BORN, "M"))
    assert not result["linked"]
    assert "veto: given names differ (possible twin)" in result["reasons"]


def test_a_namesake_with_another_birth_date_is_never_compared() -> None:
    result = link(("STMARY", "MUELLER^HANS", BORN, "M"),
                  ("KLINORD", "MUELLER^HANS", date(1951, 3, 14), "M"))
    assert not result["linked"] and result["reasons"] == []


def test_other_sex_and_same_issuer_variants_are_vetoed() -> None:
    other_sex = link(("STMARY", "MUELLER^HANS", BORN, "M"), ("KLINORD", "MUELLER^HANS", BORN, "F"))
    assert not other_sex["linked"] and "veto: sex differs" in other_sex["reasons"]
    same_issuer = link(("STMARY", "MUELLER^HANS", BORN, "M"), ("STMARY", "MEULLER^HANS", BORN, "M"))
    assert not same_issuer["linked"]


def test_missing_birth_date_is_never_linked() -> None:
    frame = pl.DataFrame({"patient_key": [1, 2], "issuer": ["A", "B"],
                          "name": ["X^Y", "X^Y"], "birth_date": [None, None],
                          "sex": ["M", "M"], "is_new": [True, True]},
                         schema_overrides={"birth_date": pl.Date})
    assert score_pairs(frame, prior=1e-5, threshold=0.99).is_empty()


def test_reasons_hold_no_names_ids_or_dates() -> None:
    result = link(("STMARY", "MUELLER^HANS", BORN, "M"), ("KLINORD", "Müller^Hans", BORN, "M"))
    text = " ".join(result["reasons"]).upper()
    assert "MUELLER" not in text and "1950" not in text and "STMARY" not in text


def test_names_normalise() -> None:
    assert normalise_name("Müller^Hans^Friedrich") == normalise_name("MUELLER^HANS^FRIEDRICH")
    assert normalise_name("Hans Mueller").words == ["HANS", "MUELLER"]
    assert normalise_name("YAMADA^TARO=山田^太郎").family == "YAMADA"
    assert normalise_name(None).words == []


def test_records_without_a_shared_birth_date_are_not_scored() -> None:
    """Splink's blocking rule makes no pair: nothing is scored (and Splink not started)."""
    from dedup.match.linkage import _has_blocked_pairs, features

    def table(births: list[date], new: list[bool]) -> pl.DataFrame:
        return features(pl.DataFrame({
            "patient_key": list(range(len(births))), "issuer": ["A"] * len(births),
            "name": ["DOE^JANE"] * len(births), "birth_date": births,
            "sex": ["F"] * len(births), "is_new": new}))

    days = [date(1960, 1, 1), date(1960, 1, 2), date(1960, 1, 2)]
    assert _has_blocked_pairs(table(days, [False, False, True]))
    assert not _has_blocked_pairs(table(days, [True, False, False]))  # its date is its own
    assert not _has_blocked_pairs(table(days[:2], [True, True]))
    assert score_pairs(pl.DataFrame({
        "patient_key": [1, 2], "issuer": ["A", "A"], "name": ["DOE^JANE", "DOE^JANE"],
        "birth_date": days[:2], "sex": ["F", "F"], "is_new": [True, True]}),
        prior=0.001, threshold=0.9).is_empty()
