"""dedup.metrics.ledger: the facts of a known-answer archive valued with known reference tables."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from dedup import metrics
from dedup.archive.db import Archive
from dedup.archive.publish import published_path
from dedup.config import Settings
from dedup.errors import UsageError
from dedup.metrics.costs import WHAT_IF_SOURCE, load_cost_model
from dedup.records import DuplicateKind
from dedup.synth.checks import record_demo_checks
from tests.metrics.known_archive import facts_of


def test_kpis_have_the_known_answers(built: Path, model_settings: Settings) -> None:
    kpis = metrics.kpis(facts_of(built), load_cost_model(model_settings))
    # avoided: c1, c2, c6 (c4's latest decision is ordered-anyway; c5 is pending)
    assert (kpis.avoided_repeats, kpis.ordered_anyway, kpis.unvalued_avoided) == (3, 2, 1)
    assert kpis.repeats == 1  # study 2 repeats two priors: one repeat
    assert kpis.duplicate_studies == 2 and kpis.bytes_reclaimable == 400 + 150
    assert kpis.exam_savings == pytest.approx(100 + 10)  # MR KNEE has no cost row
    assert kpis.storage_savings == pytest.approx(550 / 100 * 1 * 12 * 1)
    assert kpis.estimated_savings == pytest.approx(110 + 66)
    assert kpis.dose_avoided_msv == pytest.approx(2.1)
    assert (kpis.currency, kpis.bytes_per_gb) == ("USD", 100)  # the round-number tables
    assert kpis.display() == {"Avoided repeats": "3", "Estimated savings": "USD 176",
                              "Storage reclaimable": "5.50 GB", "Dose avoided": "2.1 mSv"}


def test_kpi_counts_are_integers_and_values_floats(built: Path, model_settings: Settings
                                                   ) -> None:
    kpis = metrics.kpis(facts_of(built), load_cost_model(model_settings))
    assert isinstance(kpis.bytes_reclaimable, int) and isinstance(kpis.unvalued_avoided, int)
    assert isinstance(kpis.exam_savings, float) and isinstance(kpis.dose_avoided_msv, float)


def test_storage_kinds_are_every_duplicate_kind_but_repeat() -> None:
    assert set(metrics.KINDS) == {kind.value for kind in DuplicateKind} - {"repeat"}
    assert list(metrics.KINDS) == [k.value for k in DuplicateKind if k != "repeat"]
    assert all(type(kind) is str for kind in metrics.KINDS)


def test_storage_is_never_counted_twice(built: Path, model_settings: Settings) -> None:
    facts, model = facts_of(built), load_cost_model(model_settings)
    kinds = metrics.storage_by_kind(facts, model)
    assert kinds["kind"].to_list() == list(metrics.KINDS)
    same, partial = (kinds.filter(pl.col("kind") == k).row(0, named=True)
                     for k in ("same-content", "partial"))
    assert (same["studies"], same["pairs"], same["bytes_reclaimable"]) == (1, 1, 400)
    assert (partial["studies"], partial["pairs"], partial["bytes_reclaimable"]) == (0, 1, 0)
    kpis = metrics.kpis(facts, model)
    for by in metrics.DIMENSIONS:
        frame = metrics.breakdown(facts, model, by)
        assert frame["bytes_reclaimable"].sum() == kpis.bytes_reclaimable
        assert frame["duplicate_studies"].sum() == kpis.duplicate_studies
        assert frame["estimated_savings"].sum() == pytest.approx(kpis.estimated_savings)
    for period in metrics.PERIODS:
        frame = metrics.trend(facts, model, period)
        assert frame["avoided_repeats"].sum() == kpis.avoided_repeats
        assert frame["bytes_reclaimable"].sum() == kpis.bytes_reclaimable
    top = metrics.top_sources(facts, model)
    assert top["duplicates"].sum() == kpis.duplicate_studies + kpis.repeats


def test_a_trend_lists_every_period_so_no_chart_bridges_a_gap(built: Path,
                                                              model_settings: Settings) -> None:
    facts, model = facts_of(built), load_cost_model(model_settings)
    months = metrics.trend(facts, model, "month")
    # events from 1 February (repeat study 2, check c3) to 1 May 2024 (check c6)
    assert months["period"].to_list() == [date(2024, m, 1) for m in range(2, 6)]
    weeks = metrics.trend(facts, model, "week")
    assert weeks["period"].diff().drop_nulls().unique().to_list() == [timedelta(days=7)]
    quiet = weeks.filter(pl.col("period") == date(2024, 1, 29)).row(0, named=True)
    assert quiet["checks"] == 1 and quiet["duplicate_studies"] == 0  # c3 on Thursday 1 Feb
    empty = weeks.filter(pl.col("period") == date(2024, 2, 19)).row(0, named=True)
    assert all(empty[m] == 0 for m in ("checks", "avoided_repeats", "estimated_savings"))
    days = metrics.trend(facts, model, "day")
    assert days.height == (date(2024, 5, 1) - date(2024, 2, 1)).days + 1


def test_unknown_period_or_dimension_is_refused(built: Path, model_settings: Settings) -> None:
    facts, model = facts_of(built), load_cost_model(model_settings)
    with pytest.raises(ValueError, match="period='year' must be one of day, week, month"):
        metrics.trend(facts, model, "year")
    with pytest.raises(ValueError, match="by='patient' must be one of institution"):
        metrics.breakdown(facts, model, "patient")


def test_savings_detail_names_the_rows_behind_each_figure(built: Path,
                                                          model_settings: Settings) -> None:
    detail = metrics.savings_detail(facts_of(built), load_cost_model(model_settings))
    rows = {row["family"]: row for row in detail.iter_rows(named=True)}
    assert set(rows) == {"CT HEAD", "XR CHEST", "MR KNEE"}
    assert (rows["CT HEAD"]["avoided_repeats"], rows["CT HEAD"]["repeats"]) == (1, 1)
    assert rows["CT HEAD"]["repeat_cost"] == pytest.approx(100)
    assert rows["XR CHEST"]["cost_source"] == "src" and rows["MR KNEE"]["cost"] is None


def test_edited_reference_tables_change_the_savings(built: Path, model_settings: Settings,
                                                    tmp_path: Path) -> None:
    facts = facts_of(built)
    base = metrics.kpis(facts, load_cost_model(model_settings)).exam_savings
    edited = Path(model_settings.exam_costs).read_text().replace(",100,", ",250,")
    Path(model_settings.exam_costs).write_text(edited)
    assert metrics.kpis(facts, load_cost_model(model_settings)).exam_savings == base + 150
    shipped = metrics.kpis(facts, load_cost_model(Settings()))
    assert shipped.exam_savings == pytest.approx(106.55 + 34.22 + 204.41)  # shipped CMS rows


def test_what_if_changes_values_not_files(built: Path, model_settings: Settings) -> None:
    files = [Path(p).read_text() for p in (model_settings.exam_costs,
                                           model_settings.storage_costs)]
    model = load_cost_model(model_settings)
    changed = model.what_if(exam_cost_scale=2, price_per_gb_month=2, retention_years=3)
    kpis = metrics.kpis(facts_of(built), changed)
    assert kpis.exam_savings == pytest.approx(220)
    assert kpis.storage_savings == pytest.approx(550 / 100 * 2 * 12 * 3)
    assert changed.exam_costs["source"].str.starts_with(WHAT_IF_SOURCE).all()
    assert model.exam_costs["source"].to_list() == ["src", "src"]
    assert files == [Path(p).read_text() for p in (model_settings.exam_costs,
                                                   model_settings.storage_costs)]
    with pytest.raises(UsageError, match="retention_years=-1"):
        model.what_if(retention_years=-1)


def test_demo_checks_give_avoided_repeats_and_are_idempotent(demo_archive: Path) -> None:
    facts = facts_of(demo_archive)
    kpis = metrics.kpis(facts, load_cost_model(Settings()))
    assert kpis.avoided_repeats > 0 and kpis.repeats > 0 and kpis.ordered_anyway == kpis.repeats
    assert kpis.estimated_savings > 0 and kpis.bytes_reclaimable > 0
    with metrics.published(demo_archive) as archive:
        before = archive.scalar("SELECT count(*) FROM checks")
    copy = demo_archive.parent / "copy.duckdb"
    copy.write_bytes(published_path(demo_archive).resolve().read_bytes())
    with Archive.open(copy) as archive:
        assert record_demo_checks(archive) == before
        assert archive.scalar("SELECT count(*) FROM checks") == before
        assert archive.scalar("SELECT count(*) FROM checks WHERE patient_pseudonym "
                              "LIKE 'MRN%' OR client <> 'demo'") == 0
