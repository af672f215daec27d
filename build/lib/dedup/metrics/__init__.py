"""Savings metrics: the only package the dashboard and the notebook read figures from.

Every number comes from a named query under ``dedup/archive/sql/metric_*.sql`` run on the
*published snapshot* of the archive, valued with editable reference tables:

- :mod:`~dedup.metrics.snapshot`: opening the published snapshot read-only, and whether it
  can be shown (:func:`status`);
- :mod:`~dedup.metrics.queries`: the daily facts (:func:`facts`) and the other metric
  queries, with the date/institution filter applied (:func:`filtered_sql`);
- :mod:`~dedup.metrics.costs`: the cost model (exam cost, effective dose, storage cost);
- :mod:`~dedup.metrics.ledger`: the facts valued with the cost model, and every total,
  trend and breakdown of it;
- :mod:`~dedup.metrics.format`: money, sizes and masked identifiers as the dashboard shows
  them.

Typical use::

    with metrics.published("archive.duckdb") as archive:
        facts = metrics.facts(archive, metrics.Filters(start=date(2024, 1, 1)))
    model = metrics.load_cost_model(settings)
    metrics.kpis(facts, model).display()
"""

from dedup.metrics.costs import WHAT_IF_SOURCE, CostModel, load_cost_model, parse_table
from dedup.metrics.format import format_bytes, format_money, mask_identifier
from dedup.metrics.ledger import (
    DIMENSIONS,
    KINDS,
    PERIODS,
    Kpis,
    breakdown,
    kpis,
    ledger,
    savings_detail,
    storage_by_kind,
    top_sources,
    trend,
)
from dedup.metrics.queries import (
    QUERIES,
    Facts,
    Filters,
    drilldown,
    facts,
    filter_options,
    filtered_sql,
    quarantine,
    repeat_intervals,
    runs,
)
from dedup.metrics.snapshot import ArchiveStatus, load_settings, published, status

__all__ = [
    "DIMENSIONS", "KINDS", "PERIODS", "QUERIES", "WHAT_IF_SOURCE", "ArchiveStatus", "CostModel",
    "Facts", "Filters", "Kpis", "breakdown", "drilldown", "facts", "filter_options",
    "filtered_sql", "format_bytes", "format_money", "kpis", "ledger", "load_cost_model",
    "load_settings", "mask_identifier", "parse_table", "published", "quarantine",
    "repeat_intervals", "runs", "savings_detail", "status", "storage_by_kind", "top_sources",
    "trend",
]
