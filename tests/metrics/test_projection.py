"""dedup.metrics.projection: a year at this month's rate, on the known-answer archive."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dedup import metrics
from dedup.config import Settings
from dedup.metrics.costs import load_cost_model
from tests.metrics.known_archive import facts_of


def test_the_last_month_of_the_selection_sets_the_rate(built: Path,
                                                       model_settings: Settings) -> None:
    model = load_cost_model(model_settings)
    march = metrics.Filters(end=date(2024, 3, 31))
    rate = metrics.projection(facts_of(built, march), model)
    assert rate is not None and (rate.first, rate.last, rate.days) == (
        date(2024, 3, 1), date(2024, 3, 31), 31)
    # March: c2 withdrawn (XR CHEST, $10, 0.1 mSv); studies 4 and 5 free 550 bytes ($66)
    assert (rate.avoided_repeats, rate.dose_avoided_msv) == (1, pytest.approx(0.1))
    assert rate.estimated_savings == pytest.approx(10 + 66)
    scale = 365.25 / 31
    assert rate.per_year == pytest.approx({"avoided_repeats": scale, "dose_avoided_msv":
                                           0.1 * scale, "estimated_savings": 76 * scale})
    assert rate.display() == {"Avoided repeats per year": "12",
                              "Dose avoided per year": "1.2 mSv",
                              "Savings per year": "USD 895"}


def test_a_selection_starting_mid_month_counts_only_its_days(built: Path,
                                                             model_settings: Settings) -> None:
    late_march = metrics.Filters(date(2024, 3, 10), date(2024, 3, 31))
    rate = metrics.projection(facts_of(built, late_march), load_cost_model(model_settings))
    assert rate is not None and (rate.first, rate.days) == (date(2024, 3, 10), 22)
    assert rate.estimated_savings == pytest.approx(10)  # the 5 March duplicates are outside


def test_an_open_selection_ends_on_its_last_event(built: Path,
                                                  model_settings: Settings) -> None:
    rate = metrics.projection(facts_of(built), load_cost_model(model_settings))
    # the last event is check c6 on 1 May (MR KNEE, withdrawn, no cost or dose row)
    assert rate is not None and (rate.first, rate.last, rate.days) == (
        date(2024, 5, 1), date(2024, 5, 1), 1)
    assert (rate.avoided_repeats, rate.estimated_savings) == (1, 0)
    assert rate.per_year["avoided_repeats"] == pytest.approx(365.25)


def test_no_events_no_projection(built: Path, model_settings: Settings) -> None:
    elsewhere = metrics.Filters(institutions=("Nowhere",))
    assert metrics.projection(facts_of(built, elsewhere),
                              load_cost_model(model_settings)) is None
