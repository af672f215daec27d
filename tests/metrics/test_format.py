"""dedup.metrics.format: figures and tables as the dashboard shows them."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from dedup.config import Settings
from dedup.metrics.costs import load_cost_model
from dedup.metrics.format import (
    column_label,
    format_dose,
    format_money,
    format_size,
    mask_identifier,
    readable,
)

GIB, GB = 2**30, 10**9


@pytest.mark.parametrize(("value", "currency", "shown"), [
    (0, "USD", "USD 0"), (1234.5, "USD", "USD 1,234"), (1235.5, "EUR", "EUR 1,236"),
    (176.0, "EUR", "EUR 176"), (-12.4, "USD", "USD -12"), (1_000_000, "CHF", "CHF 1,000,000"),
])
def test_money_is_whole_units_with_the_currency_named(value: float, currency: str,
                                                      shown: str) -> None:
    assert format_money(value, currency) == shown


@pytest.mark.parametrize(("value", "per_gb", "shown"), [
    (0, GIB, "0.00 GB"), (550, GIB, "< 0.01 GB"), (GIB // 10, GIB, "0.10 GB"),
    (3 * GIB // 2, GIB, "1.50 GB"), (12.34 * GIB, GIB, "12.3 GB"), (512 * GIB, GIB, "512 GB"),
    (1023 * GIB, GIB, "1,023 GB"), (1024 * GIB, GIB, "1.00 TB"), (1536 * GIB, GIB, "1.50 TB"),
    (999 * GB, GB, "999 GB"), (1000 * GB, GB, "1.00 TB"), (2500 * 10**12, GB, "2,500 TB"),
    (-2 * GIB, GIB, "-2.00 GB"),
])
def test_sizes_are_in_the_gb_the_price_is_quoted_per(value: float, per_gb: float,
                                                     shown: str) -> None:
    assert format_size(value, per_gb) == shown


def test_dose_has_one_decimal() -> None:
    assert (format_dose(28.37), format_dose(0), format_dose(1234.56)) == (
        "28.4 mSv", "0.0 mSv", "1,234.6 mSv")


@pytest.mark.parametrize(("name", "currency", "unit", "label"), [
    ("avoided_repeats", "", "", "Avoided repeats"), ("family", "", "", "Procedure family"),
    ("exam_savings", "EUR", "", "Exam savings (EUR)"), ("cost", "USD", "", "Cost per exam (USD)"),
    ("bytes_reclaimable", "", "TB", "Reclaimable (TB)"), ("patient_id", "", "", "Patient (masked)"),
    ("some_new_column", "", "", "Some new column"),
])
def test_column_labels_are_words_with_their_unit(name: str, currency: str, unit: str,
                                                 label: str) -> None:
    assert column_label(name, currency, unit) == label


def test_a_table_reads_as_shown_with_no_raw_bytes_or_column_names() -> None:
    model = load_cost_model(Settings())
    frame = pl.DataFrame({
        "family": ["CT HEAD", "XR CHEST"], "avoided_repeats": [3, 1],
        "bytes_reclaimable": [GIB // 2, 3 * GIB], "exam_savings": [319.65, 34.22],
        "cost": [106.55, 34.22], "dose_avoided_msv": [6.0, 0.1],
        "day": [date(2024, 1, 2), date(2024, 1, 3)],
        "ended_at": [datetime(2024, 1, 2, 3, 4, 5), datetime(2024, 1, 3, 0, 0, 59)],
    })
    shown = readable(frame, model, {"day": "Month"})
    assert shown.columns == ["Procedure family", "Avoided repeats", "Reclaimable (GB)",
                             "Exam savings (USD)", "Cost per exam (USD)", "Dose avoided (mSv)",
                             "Month", "Ended"]
    rows = shown.rows()
    assert rows[0] == ("CT HEAD", 3, 0.5, 320, 106.55, 6.0, "2024-01-02", "2024-01-02 03:04")
    assert rows[1][2:4] == (3.0, 34)
    big = readable(pl.DataFrame({"bytes_reclaimable": [2048 * GIB, GIB]}), model)
    assert big.columns == ["Reclaimable (TB)"] and big.to_series().to_list() == [2.0, 0.0]


@pytest.mark.parametrize(("value", "shown"), [
    ("12345678", "•••678"), ("MRN0014567", "•••567"), ("1.2.840.10008.123456", "•••123456"),
    ("1.2.5", "•••.5"), ("AB", "•••B"), ("A", "•••"), ("", ""), (None, ""),
])
def test_identifiers_show_at_most_half_their_tail(value: str | None, shown: str) -> None:
    assert mask_identifier(value) == shown


def test_mask_keeps_what_it_is_asked_to_keep_within_half() -> None:
    assert mask_identifier("ABCDEFGHIJ", keep=4) == "•••GHIJ"
    assert mask_identifier("ABCDEFGHIJ", keep=8) == "•••FGHIJ"
