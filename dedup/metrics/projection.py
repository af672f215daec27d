"""A year at this month's rate: avoided repeats, dose and savings per year.

"This month" is the calendar month holding the last day of the selection (the end of the
date filter, else the last day with an event), counted from its first day or from the start
of the selection if that is later. Its totals, divided by the days it covers and multiplied by
365.25, give the yearly rate. A rate from a few days is a rough one: :attr:`Projection.days`
says how many it stands on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from dedup.metrics.costs import CostModel
from dedup.metrics.format import format_dose, format_money
from dedup.metrics.ledger import ledger
from dedup.metrics.queries import Facts, filter_options

__all__ = ["DAYS_PER_YEAR", "Projection", "projection"]

DAYS_PER_YEAR = 365.25


@dataclass(frozen=True, slots=True)
class Projection:
    """The month a yearly rate is taken from, its totals, and the rate."""

    first: date
    last: date
    avoided_repeats: int
    dose_avoided_msv: float
    estimated_savings: float
    currency: str = "USD"

    @property
    def days(self) -> int:
        """Days of the month the rate stands on."""
        return (self.last - self.first).days + 1

    @property
    def per_year(self) -> dict[str, float]:
        """Avoided repeats, dose (mSv) and estimated savings per year at this month's rate."""
        scale = DAYS_PER_YEAR / self.days
        return {"avoided_repeats": self.avoided_repeats * scale,
                "dose_avoided_msv": self.dose_avoided_msv * scale,
                "estimated_savings": self.estimated_savings * scale}

    def display(self) -> dict[str, str]:
        """The yearly figures as the dashboard shows them: label -> formatted value."""
        rate = self.per_year
        return {"Avoided repeats per year": f"{rate['avoided_repeats']:,.0f}",
                "Dose avoided per year": format_dose(rate["dose_avoided_msv"]),
                "Savings per year": format_money(rate["estimated_savings"], self.currency)}


def projection(facts: Facts, model: CostModel) -> Projection | None:
    """The yearly rate of the last month of the selection, or None when it has no events."""
    _, last_event, _ = filter_options(facts)
    last = facts.filters.end or last_event
    if last is None:
        return None
    first = last.replace(day=1)
    if facts.filters.start is not None and facts.filters.start > first:
        first = facts.filters.start
    totals = ledger(facts, model).filter(pl.col("day").is_between(first, last)).select(
        pl.col("avoided_repeats").sum(), pl.col("dose_avoided_msv").sum(),
        pl.col("estimated_savings").sum()).row(0, named=True)
    return Projection(first, last, int(totals["avoided_repeats"] or 0),
                      float(totals["dose_avoided_msv"] or 0.0),
                      float(totals["estimated_savings"] or 0.0), model.currency)
