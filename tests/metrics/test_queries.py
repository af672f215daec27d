"""dedup.metrics.queries: the metric facts of a known-answer archive, filtered."""

from __future__ import annotations

from pathlib import Path

import pytest

from dedup import metrics
from dedup.archive.db import named_sql
from dedup.config import Settings
from dedup.metrics.costs import load_cost_model
from tests.conftest import REPO
from tests.metrics.known_archive import DUPLICATES, D, facts_of

METRIC_SQL = sorted((REPO / "dedup" / "archive" / "sql").glob("metric_*.sql"))


def test_filters_narrow_every_figure(built: Path, model_settings: Settings) -> None:
    model = load_cost_model(model_settings)
    south = metrics.kpis(facts_of(built, metrics.Filters(institutions=("South",))), model)
    assert (south.avoided_repeats, south.repeats, south.bytes_reclaimable) == (2, 0, 550)
    march = metrics.kpis(facts_of(built, metrics.Filters(D(2024, 3, 1), D(2024, 3, 31))), model)
    assert (march.avoided_repeats, march.duplicate_studies, march.repeats) == (1, 2, 0)
    first, last, institutions = metrics.filter_options(facts_of(built))
    assert (first, last, institutions) == (D(2024, 2, 1), D(2024, 5, 1), ["North", "South"])


def test_the_date_and_institution_filter_is_written_once() -> None:
    condition = [line for line in named_sql("metric_filter").splitlines()
                 if not line.startswith("--")]
    for path in METRIC_SQL:
        code = [line for line in path.read_text().splitlines() if not line.startswith("--")]
        if path.stem != "metric_filter":
            assert not any("list_contains" in line or "$start" in line for line in code), path
        if "{metric_filter}" in "\n".join(code):
            filled = metrics.filtered_sql(path.stem)
            assert "{metric_" not in filled
            assert all(line.strip() in filled for line in condition), path


def test_every_filtered_query_runs_with_the_filter_parameters(built: Path) -> None:
    everything = metrics.Filters().params()
    with metrics.published(built) as archive:
        for name in ("metric_check_outcomes", "metric_repeats", "metric_storage_duplicates",
                     "metric_repeat_intervals"):
            assert archive.query(metrics.filtered_sql(name), everything).height > 0, name


def test_drilldown_masks_identifiers(built: Path) -> None:
    with metrics.published(built) as archive:
        rows = metrics.drilldown(archive)
    text = rows.write_csv()
    assert rows.height == len(DUPLICATES)
    assert "MRN0014567" not in text and "1.2.5" not in text
    assert set(rows["patient_id"]) == {"•••567"}
    assert metrics.mask_identifier("1.2.840.10008.123456") == "•••123456"
    assert metrics.mask_identifier("") == "" and metrics.mask_identifier("AB") == "•••B"


def test_drilldown_filters_before_its_limit(built: Path) -> None:
    north = metrics.Filters(institutions=("North",))
    with metrics.published(built) as archive:
        newest = metrics.drilldown(archive, limit=1)
        rows = metrics.drilldown(archive, north, limit=1)
        all_north = metrics.drilldown(archive, north)
    assert newest["institution"].to_list() == ["South"]  # the newest pair is in the South
    assert rows["institution"].to_list() == ["North"]
    assert all_north["kind"].to_list() == ["repeat", "repeat"]
    assert all_north["day"].to_list() == [D(2024, 2, 1)] * 2


def test_runs_quarantine_and_intervals(built: Path) -> None:
    with metrics.published(built) as archive:
        runs = metrics.runs(archive)
        intervals = metrics.repeat_intervals(archive)
        assert metrics.quarantine(archive).height == 0
    assert runs.row(0, named=True)["status"] == "ok"
    assert sorted(intervals["days_apart"]) == [12, 22]


@pytest.mark.parametrize(("filters", "days_apart"), [
    (metrics.Filters(institutions=("North",)), [12, 22]),
    (metrics.Filters(institutions=("South",)), []),
    (metrics.Filters(start=D(2024, 2, 2)), []),
    (metrics.Filters(end=D(2024, 2, 1)), [12, 22]),
])
def test_repeat_intervals_take_the_filter(built: Path, filters: metrics.Filters,
                                          days_apart: list[int]) -> None:
    with metrics.published(built) as archive:
        intervals = metrics.repeat_intervals(archive, filters)
    assert sorted(intervals["days_apart"]) == days_apart
