"""dedup.metrics.costs on the shipped reference tables (dedup/data/*.csv) and broken copies."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest

from dedup.config import Settings
from dedup.errors import UsageError
from dedup.metrics.costs import WHAT_IF_SOURCE, load_cost_model, parse_table, shipped_tables
from tests.conftest import REPO
from tests.metrics.known_archive import write_table

DATA = REPO / "dedup" / "data"
GIB = 1024 ** 3


def _shipped_rows(name: str) -> list[list[str]]:
    return list(csv.reader((DATA / name).open(newline="")))


def _csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


def _value(frame: pl.DataFrame, key: str, family: str) -> float:
    return float(frame.filter(pl.col("family") == family)[key][0])


def test_the_shipped_exam_costs_parse_to_their_values() -> None:
    text = (DATA / "exam_costs.csv").read_text()
    frame = parse_table(text, "exam_costs.csv")
    assert frame.columns == ["family", "code", "basis", "currency", "cost", "source",
                             "retrieved"]
    assert frame.height == len(_shipped_rows("exam_costs.csv")) - 1
    assert _value(frame, "cost", "CT HEAD") == pytest.approx(106.55)
    assert frame.filter(pl.col("family") == "XR CHEST")["code"].to_list() == ["CPT 71046"]
    assert set(frame["currency"]) == {"USD"}


def test_parse_table_lists_every_bad_row() -> None:
    header, *rows = _shipped_rows("exam_costs.csv")
    rows[1][2] = "n/a"                        # line 3: CT CHEST cost is not a number
    rows[3][2] = "-128.09"                    # line 5: CT CSPINE cost is negative
    rows[4][0] = ""                           # line 6: MR BRAIN row lost its family
    rows.append(["ct head", *rows[0][1:]])    # line 11: CT HEAD again (families are upper-cased)
    with pytest.raises(UsageError) as info:
        parse_table(_csv_text([header, *rows]), "exam_costs.csv", "edited exam_costs.csv")
    problems = str(info.value).split("; ")
    assert problems == [
        "edited exam_costs.csv line 3: cost='n/a' is not a number >= 0",
        "edited exam_costs.csv line 5: cost='-128.09' is not a number >= 0",
        "edited exam_costs.csv line 6: no family",
        "edited exam_costs.csv line 11: family 'CT HEAD' repeats an earlier row",
    ]


def test_parse_table_names_the_missing_columns() -> None:
    header, *rows = _shipped_rows("effective_doses.csv")
    keep = [i for i, column in enumerate(header) if column not in ("basis", "retrieved")]
    text = _csv_text([[row[i] for i in keep] for row in [header, *rows]])
    with pytest.raises(UsageError) as info:
        parse_table(text, "effective_doses.csv")
    assert str(info.value) == ("effective_doses.csv lacks columns ['basis', 'retrieved']; "
                               "expected family, basis, msv, source, retrieved")


def test_bad_reference_tables_are_reported_together(tmp_path: Path) -> None:
    bad = write_table(tmp_path / "exam.csv", ["family", "code", "cost", "currency", "basis",
                                              "source", "retrieved"],
                      [["CT HEAD", "1", "cheap", "USD", "", "", ""],
                       ["", "2", 3, "USD", "", "", ""]])
    no_notes = write_table(tmp_path / "dose.csv", ["family", "msv"], [["CT HEAD", 2]])
    with pytest.raises(UsageError) as info:
        load_cost_model(Settings(exam_costs=bad, effective_doses=no_notes,
                                 storage_costs=str(tmp_path / "missing.csv")))
    message = str(info.value)
    for part in ("cost='cheap' is not a number", "line 3: no family",
                 "lacks columns ['basis', 'source', 'retrieved']", "cannot read"):
        assert part in message
    with pytest.raises(UsageError, match="repeats an earlier row"):
        parse_table("item,value,unit,currency,source,retrieved\nx,1,u,,s,r\nx,2,u,,s,r\n",
                    "storage_costs.csv")


def test_a_missing_cost_file_says_how_to_fix_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-exam-costs.csv"
    with pytest.raises(UsageError) as info:
        load_cost_model(Settings(exam_costs=str(missing)))
    assert str(info.value) == (
        f"cost model: cannot read {str(missing)!r} (No such file or directory); fix the path "
        "or unset the setting to use the shipped table")


def test_a_storage_table_without_every_item_is_refused(tmp_path: Path) -> None:
    header, *rows = _shipped_rows("storage_costs.csv")
    path = write_table(tmp_path / "storage.csv", header,
                       [row for row in rows if row[0] != "bytes_per_gb"])
    with pytest.raises(UsageError, match=r"no row for \['bytes_per_gb'\]; add item,value"):
        load_cost_model(Settings(storage_costs=path))


def test_the_model_names_the_files_it_read(tmp_path: Path) -> None:
    assert load_cost_model(Settings()).files == (
        "shipped:exam_costs.csv", "shipped:effective_doses.csv", "shipped:storage_costs.csv")
    copy = tmp_path / "doses.csv"
    copy.write_text((DATA / "effective_doses.csv").read_text())
    assert load_cost_model(Settings(effective_doses=str(copy))).files[1] == str(copy)


def test_storage_cost_is_bytes_over_gb_times_price_months_and_years() -> None:
    model = load_cost_model(Settings())
    # shipped: $0.023 per GB-month (S3 Standard), 5 years (42 CFR 482.26), 1 GB = 2^30 bytes
    assert (model.price_per_gb_month, model.retention_years, model.bytes_per_gb) == (
        0.023, 5.0, GIB)
    assert model.storage_cost(GIB) == pytest.approx(0.023 * 12 * 5)
    assert model.storage_cost(10 * GIB) == pytest.approx(13.8)
    assert model.storage_cost(GIB // 2) == pytest.approx(0.69)
    assert model.storage_cost(0) == 0


def test_what_if_scales_costs_and_doses_and_names_itself() -> None:
    model = load_cost_model(Settings())
    changed = model.what_if(exam_cost_scale=1.5, dose_scale=2)
    assert _value(changed.exam_costs, "cost", "CT HEAD") == pytest.approx(106.55 * 1.5)
    assert _value(changed.exam_costs, "cost", "XR CHEST") == pytest.approx(34.22 * 1.5)
    assert _value(changed.doses, "msv", "CT CHEST") == pytest.approx(14)
    source = changed.exam_costs.filter(pl.col("family") == "CT HEAD")["source"][0]
    assert source.startswith(WHAT_IF_SOURCE + " (x1.5 of the reference value); was: CMS ")
    assert _value(model.exam_costs, "cost", "CT HEAD") == pytest.approx(106.55)
    assert changed.storage.equals(model.storage)


def test_what_if_replaces_only_the_storage_values_it_changes() -> None:
    model = load_cost_model(Settings())
    same = model.what_if(price_per_gb_month=0.023, retention_years=5)
    assert same.storage.equals(model.storage) and same.exam_costs.equals(model.exam_costs)
    cheaper = model.what_if(price_per_gb_month=0.0125)
    assert cheaper.storage_cost(GIB) == pytest.approx(0.0125 * 12 * 5)
    sources = dict(cheaper.storage.select("item", "source").iter_rows())
    assert sources["price_per_gb_month"].startswith(WHAT_IF_SOURCE + "; was: Amazon S3")
    assert sources["retention_years"].startswith("42 CFR 482.26")


def test_what_if_refuses_negative_values_and_lists_them_all() -> None:
    model = load_cost_model(Settings())
    with pytest.raises(UsageError, match=r"what-if values must be >= 0: exam_cost_scale=-1, "
                                         r"price_per_gb_month=-0.5"):
        model.what_if(exam_cost_scale=-1, price_per_gb_month=-0.5)


def test_shipped_tables_cite_a_source_on_every_row() -> None:
    families = {r["family"] for r in csv.DictReader(
        (REPO / "dedup" / "data" / "procedure_families.csv").open())}
    model = load_cost_model(Settings())
    for frame in (model.exam_costs, model.doses, model.storage):
        assert frame.height and frame["source"].str.len_chars().min() > 10
        assert frame["retrieved"].str.len_chars().min() >= 4
    assert set(model.exam_costs["family"]) <= families
    assert set(model.doses["family"]) <= families
    assert model.storage_cost(model.bytes_per_gb) == pytest.approx(0.023 * 12 * 5)


def test_a_table_in_the_old_format_says_what_to_rename() -> None:
    with pytest.raises(UsageError) as info:
        parse_table("family,cpt,cost_usd,basis,source,retrieved\nCT HEAD,1,2,b,s,r\n",
                    "exam_costs.csv", "old.csv")
    assert str(info.value) == (
        "old.csv lacks columns ['code', 'currency', 'cost']; expected family, code, basis, "
        "currency, cost, source, retrieved (rename cost_usd to cost and add a currency column "
        "(USD); rename cpt to code)")


def test_money_rows_need_an_iso_currency_code() -> None:
    header = "family,code,cost,currency,basis,source,retrieved\n"
    frame = parse_table(header + "CT HEAD,1,2,eur,b,s,r\n", "exam_costs.csv")
    assert frame["currency"].to_list() == ["EUR"]
    with pytest.raises(UsageError) as info:
        parse_table(header + "CT HEAD,1,2,,b,s,r\nXR CHEST,1,2,€,b,s,r\n", "exam_costs.csv")
    assert str(info.value).split("; ")[:2] == [
        "exam_costs.csv line 2: currency='' is not an ISO 4217 code",
        "write the currency of the figure, e.g. USD or EUR",
    ]
    assert "line 3: currency='€'" in str(info.value)
    storage = "item,value,unit,currency,source,retrieved\n"
    with pytest.raises(UsageError, match="line 2: currency='' is not an ISO 4217 code"):
        parse_table(storage + "price_per_gb_month,1,u,,s,r\n", "storage_costs.csv")
    assert parse_table(storage + "retention_years,1,y,,s,r\n", "storage_costs.csv").height == 1


def test_a_site_picks_its_shipped_tables_by_name() -> None:
    assert shipped_tables("exam_costs.csv") == ["exam_costs.csv", "exam_costs_de_goae.csv"]
    assert shipped_tables("storage_costs.csv") == ["storage_costs.csv", "storage_costs_de.csv"]
    model = load_cost_model(Settings(exam_costs="shipped:exam_costs_de_goae.csv",
                                     storage_costs="shipped:storage_costs_de.csv"))
    assert model.currency == "EUR" and set(model.exam_costs["currency"]) == {"EUR"}
    assert model.files == ("shipped:exam_costs_de_goae.csv", "shipped:effective_doses.csv",
                           "shipped:storage_costs_de.csv")
    assert _value(model.exam_costs, "cost", "CT HEAD") == pytest.approx(209.84)
    # 10 years (StrlSchG §85), EUR 0.0049 per GB-month, decimal GB
    assert model.storage_cost(10**9) == pytest.approx(0.0049 * 12 * 10)
    assert load_cost_model(Settings(exam_costs="shipped:exam_costs.csv")).currency == "USD"
    with pytest.raises(UsageError, match=r"no shipped table 'shipped:exam_costs_fr.csv'; the "
                                         r"shipped exam_costs tables are exam_costs.csv, "
                                         r"exam_costs_de_goae.csv"):
        load_cost_model(Settings(exam_costs="shipped:exam_costs_fr.csv"))
    with pytest.raises(UsageError, match="no shipped table"):
        load_cost_model(Settings(exam_costs="shipped:../data/storage_costs.csv"))


def test_tables_in_two_currencies_are_refused() -> None:
    with pytest.raises(UsageError) as info:
        load_cost_model(Settings(exam_costs="shipped:exam_costs_de_goae.csv"))
    assert str(info.value).startswith(
        "cost model: exam costs are in EUR but the storage price is in USD; every money figure "
        "must be in one currency")


@pytest.mark.parametrize(("exam", "storage", "currency"), [
    ("exam_costs.csv", "storage_costs.csv", "USD"),
    ("exam_costs_de_goae.csv", "storage_costs_de.csv", "EUR"),
])
def test_every_shipped_money_row_names_its_currency_and_source(exam: str, storage: str,
                                                               currency: str) -> None:
    families = {r["family"] for r in csv.DictReader(
        (REPO / "dedup" / "data" / "procedure_families.csv").open())}
    model = load_cost_model(Settings(exam_costs=f"shipped:{exam}",
                                     storage_costs=f"shipped:{storage}"))
    assert model.currency == currency and set(model.exam_costs["family"]) <= families
    for frame in (model.exam_costs, model.storage):
        assert frame["source"].str.len_chars().min() > 10
        assert frame["retrieved"].str.starts_with("2026-").all()
