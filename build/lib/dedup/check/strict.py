"""Numbers, dates and times from outside, parsed strictly: ASCII digits, bounded ranges.

Python's own parsers are lenient in ways a service must not be: ``str.isdigit`` accepts
``²`` and ``٣`` (which ``int`` then refuses, or reads), ``int`` takes ``" 1_0 "``,
``date.fromisoformat`` takes week dates and compact forms, and a valid time with an offset
at the edge of the calendar (``9999-12-31T23:00:00-12:00``) overflows when converted to UTC.
Each parser here accepts one written form, checks the range, and raises :class:`ValueError`
with a message that says what is expected (never echoing the value: it may be PHI).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

__all__ = ["calendar_date", "instant", "whole_number"]

_NUMBER = re.compile(r"[0-9]{1,18}")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_INSTANT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})"
                      r"(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?(Z|[+-][0-9]{2}:[0-9]{2})?")
#: The instants accepted, once in UTC (years a decision can carry; no overflow at either end).
_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def whole_number(text: str, low: int, high: int) -> int:
    """``text`` as an integer from ``low`` to ``high``: ASCII digits only, nothing else.

    Raises:
        ValueError: not written as digits 0-9, or out of range.

    """
    if not _NUMBER.fullmatch(text) or not low <= int(text) <= high:
        raise ValueError(f"must be a whole number from {low} to {high}, in digits 0-9")
    return int(text)


def calendar_date(text: str) -> date:
    """``text`` as a date written ``YYYY-MM-DD`` (ASCII digits, a real day of the calendar).

    Raises:
        ValueError: another form, or no such day.

    """
    found = _DATE.fullmatch(text)
    try:
        if found is None:
            raise ValueError
        return date(*(int(part) for part in found.groups()))
    except ValueError:
        raise ValueError("must be a date YYYY-MM-DD") from None


def instant(text: str) -> datetime:
    """``text`` as a moment, returned in UTC.

    Written ``YYYY-MM-DDThh:mm[:ss[.fraction]]`` with ``Z``, an offset ``±hh:mm`` (under 24
    hours) or nothing (UTC), and between the years 1900 and 9999 in UTC.

    Raises:
        ValueError: another form, no such moment, or outside those years.

    """
    found = _INSTANT.fullmatch(text)
    try:
        if found is None:
            raise ValueError
        year, month, day, hour, minute, second, fraction, zone = found.groups()
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        zone = "+00:00" if zone in (None, "Z") else zone
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if minutes > 59:
            raise ValueError
        offset = (-1 if zone[0] == "-" else 1) * timedelta(hours=hours, minutes=minutes)
        local = datetime(int(year), int(month), int(day), int(hour), int(minute),
                         int(second or 0), micro, tzinfo=timezone(offset))
        if not _EARLIEST <= local <= _LATEST:  # compared in UTC, without converting
            raise ValueError
    except ValueError:
        raise ValueError("must be a date-time YYYY-MM-DDThh:mm:ss in UTC, or with an offset "
                         "(e.g. 2020-12-11T10:00:00Z or 2020-12-11T11:00:00+01:00), between "
                         "the years 1900 and 9999") from None
    return local.astimezone(UTC)
