"""The savings ledger: the metric facts valued with the cost model, and its aggregates.

:func:`ledger` values the daily facts of :mod:`dedup.metrics.queries` with the reference
tables of :mod:`dedup.metrics.costs` (a row and its source behind every unit cost and dose);
every other function here aggregates that ledger, so a total, a trend and a breakdown always
agree.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import polars as pl

from dedup.metrics.costs import CostModel
from dedup.metrics.format import format_bytes, format_money
from dedup.metrics.queries import Facts
from dedup.records import DuplicateKind

__all__ = ["DIMENSIONS", "KINDS", "PERIODS", "Kpis", "breakdown", "kpis", "ledger",
           "savings_detail", "storage_by_kind", "top_sources", "trend"]

#: the storage duplicate kinds (every kind but ``repeat``), in DESIGN.md's order
KINDS: tuple[str, ...] = tuple(kind.value for kind in DuplicateKind
                               if kind is not DuplicateKind.REPEAT)
DIMENSIONS = ("institution", "modality", "family")
PERIODS = {"day": "1d", "week": "1w", "month": "1mo"}
_KEYS = ["day", *DIMENSIONS]
_COUNTS = ("checks", "avoided_repeats", "ordered_anyway", "repeats", "duplicate_studies",
           "bytes_reclaimable")
_MEASURES = (*_COUNTS, "exam_savings", "repeat_cost", "storage_savings", "estimated_savings",
             "dose_avoided_msv", "unvalued_avoided")


@dataclass(frozen=True, slots=True)
class Kpis:
    """The headline figures for one set of filters and one cost model."""

    avoided_repeats: int
    repeats: int
    ordered_anyway: int
    duplicate_studies: int
    bytes_reclaimable: int
    exam_savings: float
    storage_savings: float
    estimated_savings: float
    dose_avoided_msv: float
    unvalued_avoided: int

    def display(self) -> dict[str, str]:
        """The KPI row as the dashboard shows it: label -> formatted value."""
        return {"Avoided repeats": f"{self.avoided_repeats:,}",
                "Estimated savings": format_money(self.estimated_savings),
                "Storage reclaimable": format_bytes(self.bytes_reclaimable),
                "Dose avoided": f"{self.dose_avoided_msv:,.1f} mSv"}


def ledger(facts: Facts, model: CostModel) -> pl.DataFrame:
    """Every measure per day, institution, modality and family, valued with ``model``.

    Columns: the keys, then checks, avoided_repeats, ordered_anyway, repeats,
    duplicate_studies, bytes_reclaimable, exam_cost_usd, exam_savings, repeat_cost,
    storage_savings, estimated_savings, dose_msv, dose_avoided_msv, unvalued_avoided.
    """
    outcome = pl.col("outcome")
    checks = facts.checks.group_by(_KEYS).agg(
        pl.col("checks").sum(),
        pl.col("checks").filter(outcome == "withdrawn").sum().alias("avoided_repeats"),
        pl.col("checks").filter(outcome == "ordered-anyway").sum().alias("ordered_anyway"))
    storage = facts.storage.group_by(_KEYS).agg(
        pl.col("studies").sum().alias("duplicate_studies"), pl.col("bytes_reclaimable").sum())
    merged = pl.concat([checks, facts.repeats.select(*_KEYS, "repeats"), storage],
                       how="diagonal_relaxed")
    merged = merged.with_columns(pl.col(c).cast(pl.Int64).fill_null(0) for c in _COUNTS)
    daily = merged.group_by(_KEYS).agg(pl.col(c).sum() for c in _COUNTS)
    costs = model.exam_costs.select("family", pl.col("cost_usd").alias("exam_cost_usd"))
    doses = model.doses.select("family", pl.col("msv").alias("dose_msv"))
    valued = daily.join(costs, on="family", how="left").join(doses, on="family", how="left")
    storage_rate = model.storage_cost(1.0)
    return valued.with_columns(
        (pl.col("avoided_repeats") * pl.col("exam_cost_usd").fill_null(0)).alias("exam_savings"),
        (pl.col("repeats") * pl.col("exam_cost_usd").fill_null(0)).alias("repeat_cost"),
        (pl.col("bytes_reclaimable") * storage_rate).alias("storage_savings"),
        (pl.col("avoided_repeats") * pl.col("dose_msv").fill_null(0)).alias("dose_avoided_msv"),
        pl.when(pl.col("exam_cost_usd").is_null()).then(pl.col("avoided_repeats"))
        .otherwise(0).alias("unvalued_avoided"),
    ).with_columns(
        (pl.col("exam_savings") + pl.col("storage_savings")).alias("estimated_savings"),
    ).sort(_KEYS)


def kpis(facts: Facts, model: CostModel) -> Kpis:
    """The headline figures: sums of the ledger."""
    totals = ledger(facts, model).select(pl.col(m).sum() for m in _MEASURES).row(0, named=True)
    values: dict[str, Any] = {f.name: _as_field_type(f.type, totals[f.name])
                              for f in fields(Kpis)}
    return Kpis(**values)


def trend(facts: Facts, model: CostModel, period: str = "month") -> pl.DataFrame:
    """The measures per day, week (from Monday) or month.

    Raises:
        ValueError: an unknown period.

    """
    if period not in PERIODS:
        raise ValueError(f"period={period!r} must be one of {', '.join(PERIODS)}")
    rows = ledger(facts, model).with_columns(pl.col("day").dt.truncate(PERIODS[period])
                                             .alias("period"))
    return _totals(rows, ["period"]).sort("period")


def breakdown(facts: Facts, model: CostModel, by: str) -> pl.DataFrame:
    """The measures per institution, modality or procedure family, largest savings first.

    Raises:
        ValueError: ``by`` is not one of :data:`DIMENSIONS`.

    """
    if by not in DIMENSIONS:
        raise ValueError(f"by={by!r} must be one of {', '.join(DIMENSIONS)}")
    return _totals(ledger(facts, model), [by]).sort(
        ["estimated_savings", "duplicate_studies", by], descending=[True, True, False])


def top_sources(facts: Facts, model: CostModel, limit: int = 10) -> pl.DataFrame:
    """Where duplicates come from: institution and family pairs with the most duplicates."""
    rows = _totals(ledger(facts, model), ["institution", "family"]).with_columns(
        (pl.col("duplicate_studies") + pl.col("repeats")).alias("duplicates"))
    columns = ["institution", "family", "duplicates", "duplicate_studies", "repeats",
               "avoided_repeats", "bytes_reclaimable", "estimated_savings"]
    return rows.filter(pl.col("duplicates") + pl.col("avoided_repeats") > 0).select(columns).sort(
        ["duplicates", "bytes_reclaimable", "institution"], descending=[True, True, False]
    ).head(limit)


def storage_by_kind(facts: Facts, model: CostModel) -> pl.DataFrame:
    """Storage duplicates per kind (every kind listed): studies, pairs, bytes, savings."""
    kinds = pl.DataFrame({"kind": list(KINDS)})
    totals = facts.storage.group_by("kind").agg(
        pl.col("studies").sum().cast(pl.Int64), pl.col("pairs").sum().cast(pl.Int64),
        pl.col("bytes_reclaimable").sum().cast(pl.Int64))
    out = kinds.join(totals, on="kind", how="full", coalesce=True).fill_null(0)
    order = {kind: position for position, kind in enumerate(KINDS)}
    return out.with_columns(
        (pl.col("bytes_reclaimable") * model.storage_cost(1.0)).alias("storage_savings"),
    ).sort(pl.col("kind").replace_strict(order, default=len(order)))


def savings_detail(facts: Facts, model: CostModel) -> pl.DataFrame:
    """Per procedure family: counts, the unit cost and dose used, and the row they came from."""
    rows = _totals(ledger(facts, model), ["family"]).filter(
        (pl.col("avoided_repeats") + pl.col("repeats")) > 0)
    costs = model.exam_costs.select("family", "cpt", "cost_usd",
                                    pl.col("source").alias("cost_source"))
    doses = model.doses.select("family", "msv", pl.col("source").alias("dose_source"))
    return rows.join(costs, on="family", how="left").join(doses, on="family", how="left").select(
        "family", "avoided_repeats", "repeats", "cpt", "cost_usd", "exam_savings", "repeat_cost",
        "msv", "dose_avoided_msv", "cost_source", "dose_source").sort("family")


def _totals(rows: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    return rows.group_by(by).agg(pl.col(m).sum() for m in _MEASURES)


def _as_field_type(annotation: object, value: Any) -> int | float:
    """A ledger sum as the :class:`Kpis` field declares it (``"int"`` or ``"float"``)."""
    return int(value or 0) if annotation in ("int", int) else float(value or 0.0)
