"""dedup.metrics.format: figures as the dashboard shows them."""

from __future__ import annotations

import pytest

from dedup.metrics.format import format_bytes, format_money, mask_identifier


@pytest.mark.parametrize(("value", "shown"), [
    (0, "$0"), (1234.5, "$1,234"), (1235.5, "$1,236"), (176.0, "$176"), (-12.4, "$-12"),
    (1_000_000, "$1,000,000"),
])
def test_money_is_whole_us_dollars(value: float, shown: str) -> None:
    assert format_money(value) == shown


@pytest.mark.parametrize(("value", "shown"), [
    (0, "0 B"), (550, "550 B"), (1023, "1,023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"),
    (5 * 2**20, "5.0 MiB"), (3 * 2**30 // 2, "1.5 GiB"), (2**40, "1.0 TiB"),
    (3000 * 2**40, "3,000.0 TiB"), (-2048, "-2.0 KiB"),
])
def test_bytes_are_binary_units_with_one_decimal(value: float, shown: str) -> None:
    assert format_bytes(value) == shown


@pytest.mark.parametrize(("value", "shown"), [
    ("12345678", "•••678"), ("MRN0014567", "•••567"), ("1.2.840.10008.123456", "•••123456"),
    ("1.2.5", "•••.5"), ("AB", "•••B"), ("A", "•••"), ("", ""), (None, ""),
])
def test_identifiers_show_at_most_half_their_tail(value: str | None, shown: str) -> None:
    assert mask_identifier(value) == shown


def test_mask_keeps_what_it_is_asked_to_keep_within_half() -> None:
    assert mask_identifier("ABCDEFGHIJ", keep=4) == "•••GHIJ"
    assert mask_identifier("ABCDEFGHIJ", keep=8) == "•••FGHIJ"
