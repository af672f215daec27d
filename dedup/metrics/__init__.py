"""Savings metrics: the only module the dashboard and the notebook read figures from."""

from dedup.metrics.costs import WHAT_IF_SOURCE, CostModel, load_cost_model, parse_table
from dedup.metrics.queries import (
    DIMENSIONS,
    KINDS,
    PERIODS,
    QUERIES,
    ArchiveStatus,
    Facts,
    Filters,
    Kpis,
    breakdown,
    drilldown,
    facts,
    filter_options,
    filtered_sql,
    format_bytes,
    format_money,
    kpis,
    ledger,
    load_settings,
    mask_identifier,
    published,
    quarantine,
    query_text,
    repeat_intervals,
    runs,
    savings_detail,
    status,
    storage_by_kind,
    top_sources,
    trend,
)

__all__ = [
    "DIMENSIONS", "KINDS", "PERIODS", "QUERIES", "WHAT_IF_SOURCE", "ArchiveStatus", "CostModel",
    "Facts", "Filters", "Kpis", "breakdown", "drilldown", "facts", "filter_options",
    "filtered_sql", "format_bytes", "format_money", "kpis", "ledger", "load_cost_model",
    "load_settings", "mask_identifier", "parse_table", "published", "quarantine", "query_text",
    "repeat_intervals", "runs", "savings_detail", "status", "storage_by_kind", "top_sources",
    "trend",
]
