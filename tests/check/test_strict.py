"""dedup.check.strict: one written form per value, ranges bounded, ValueError for the rest."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedup.check.strict import calendar_date, instant, whole_number


@given(st.text(max_size=12))
def test_a_whole_number_is_ascii_digits_in_range_and_nothing_else(text: str) -> None:
    try:
        value = whole_number(text, 1, 3650)
    except ValueError as exc:
        assert str(exc) == "must be a whole number from 1 to 3650, in digits 0-9"
        assert not (text.isascii() and text.isdigit() and 1 <= int(text) <= 3650)
    else:
        assert text.isascii() and text.isdigit() and value == int(text) and 1 <= value <= 3650


@pytest.mark.parametrize("text", ["²", "٣", "1_0", " 1", "+1", "1.0", "9" * 5000, "0x10"])
def test_look_alike_numbers_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="whole number from 1 to 3650"):
        whole_number(text, 1, 3650)


@given(st.dates())
def test_every_calendar_date_reads_back_from_its_iso_form(day: date) -> None:
    assert calendar_date(day.isoformat()) == day


@pytest.mark.parametrize("text", ["20240215", "2024-W07-4", "2024-046", "٢٠٢٤-٠٢-١٥",
                                  "2024-02-30", "2024-2-15", "2024-02-15T00:00", ""])
def test_other_date_forms_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        calendar_date(text)


@given(st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9999, 12, 29)),
       st.integers(-(24 * 60 - 1), 24 * 60 - 1))
def test_any_moment_with_any_offset_reads_back_in_utc(moment: datetime, minutes: int) -> None:
    zone = timezone(timedelta(minutes=minutes))
    written = moment.replace(tzinfo=zone).isoformat()
    assert instant(written) == moment.replace(tzinfo=zone).astimezone(UTC)


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00",
                                  "1899-12-31T23:59:59Z", "2020-12-11T00:00:00+24:00",
                                  "2020-12-11T00:00:00+05:60", "2020-12-11 00:00:00Z",
                                  "2020-12-11T24:00:00Z", "２020-12-11T00:00:00Z", "soon"])
def test_moments_outside_the_calendar_or_written_otherwise_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="between the years 1900 and 9999"):
        instant(text)


def test_a_moment_without_an_offset_is_utc() -> None:
    assert instant("2020-12-11T10:00") == datetime(2020, 12, 11, 10, tzinfo=UTC)
    assert instant("2020-12-11T10:00:00.1234567Z").microsecond == 123456
