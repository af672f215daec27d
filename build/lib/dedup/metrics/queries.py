"""The metric facts: named ``metric_*.sql`` queries run on the published snapshot.

Each figure comes from one named query under ``dedup/archive/sql/metric_*.sql`` (listed in
:data:`QUERIES`). The queries return daily facts per institution, modality and procedure
family; :mod:`dedup.metrics.ledger` values and aggregates them.

Shared SQL is written once and named inside a query as its file name in braces:
``metric_filter`` (the date-range and institution filter every query applies) and
``metric_duplicate_events`` (duplicate rows placed by their study's day, institution,
modality and family). :func:`filtered_sql` fills those names in; it is the one way these
queries are read, here and in the notebook.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from itertools import dropwhile
from typing import Any

import polars as pl

from dedup.archive.db import Archive, named_sql
from dedup.metrics.format import mask_identifier
from dedup.metrics.snapshot import missing_tables

__all__ = ["QUERIES", "Facts", "Filters", "drilldown", "facts", "filter_options",
           "filtered_sql", "quarantine", "repeat_intervals", "runs"]

#: figure -> (named query, how the figure is derived from its rows and the reference tables)
QUERIES: dict[str, tuple[str, str]] = {
    "Avoided repeats": ("metric_check_outcomes",
                        "checks whose latest outcome is 'withdrawn'"),
    "Repeats that happened": ("metric_repeats",
                              "studies with a `repeat` duplicate row, each counted once"),
    "Storage reclaimable": ("metric_storage_duplicates",
                            "sum(bytes_reclaimable) of non-repeat duplicate rows"),
    "Estimated savings": ("metric_check_outcomes + metric_storage_duplicates",
                          "avoided repeats x exam_costs.csv cost_usd (per family) + "
                          "reclaimable bytes / bytes_per_gb x price_per_gb_month x 12 x "
                          "retention_years (storage_costs.csv)"),
    "Dose avoided": ("metric_check_outcomes",
                     "avoided repeats x effective_doses.csv msv (per family)"),
}
_CHECK_TABLES = ("checks", "outcomes")
_SHARED_PART = re.compile(r"\{(metric_\w+)\}")
_MASKED = ("patient_id", "study_uid", "duplicate_of_study_uid")


@dataclass(frozen=True, slots=True)
class Filters:
    """Which events count: a closed date range (None = open) and institutions (empty = all)."""

    start: date | None = None
    end: date | None = None
    institutions: tuple[str, ...] = ()

    def params(self) -> dict[str, Any]:
        """The named parameters every filtered ``metric_*.sql`` query takes."""
        return {"start": self.start, "end": self.end,
                "institutions": list(self.institutions) or None}


@dataclass(frozen=True, slots=True)
class Facts:
    """The rows of the three metric queries for one set of filters (daily grain)."""

    checks: pl.DataFrame
    repeats: pl.DataFrame
    storage: pl.DataFrame
    filters: Filters = field(default_factory=Filters)


def filtered_sql(name: str) -> str:
    """The named metric query with its shared parts filled in, ready to run.

    ``{metric_filter}`` becomes the date-range and institution condition of
    ``metric_filter.sql`` and ``{metric_duplicate_events}`` the query of
    ``metric_duplicate_events.sql`` (each without its header comment, indented to where it
    stands). Run the result with :meth:`Filters.params`.
    """
    text = named_sql(name)

    def shared_part(match: re.Match[str]) -> str:
        indent = " " * (match.start() - text.rfind("\n", 0, match.start()) - 1)
        body = dropwhile(lambda line: line.startswith("--"), named_sql(match[1]).splitlines())
        return ("\n" + indent).join(body).strip()

    return _SHARED_PART.sub(shared_part, text)


def facts(archive: Archive, filters: Filters | None = None) -> Facts:
    """Run the three metric queries with ``filters`` on an open (published) archive."""
    filters = filters or Filters()
    params = filters.params()
    checks = (_empty_checks() if missing_tables(archive, _CHECK_TABLES)
              else archive.query(filtered_sql("metric_check_outcomes"), params))
    return Facts(checks, archive.query(filtered_sql("metric_repeats"), params),
                 archive.query(filtered_sql("metric_storage_duplicates"), params), filters)


def filter_options(facts: Facts) -> tuple[date | None, date | None, list[str]]:
    """The first and last event day and the institutions present (for the filter widgets)."""
    frames = [f.select("day", "institution") for f in (facts.checks, facts.repeats,
                                                        facts.storage) if f.height]
    if not frames:
        return None, None, []
    both = pl.concat(frames)
    return both["day"].min(), both["day"].max(), sorted(both["institution"].unique())  # type: ignore[return-value]


def runs(archive: Archive, limit: int = 20) -> pl.DataFrame:
    """The latest batch runs, newest first."""
    return archive.run("metric_runs", {"limit": limit})


def quarantine(archive: Archive) -> pl.DataFrame:
    """Quarantined inputs per run and reason (counts only, never locations)."""
    return archive.run("metric_quarantine")


def repeat_intervals(archive: Archive, filters: Filters | None = None) -> pl.DataFrame:
    """Days between each repeat and its prior, with family and institution."""
    return archive.query(filtered_sql("metric_repeat_intervals"),
                         (filters or Filters()).params())


def drilldown(archive: Archive, filters: Filters | None = None, limit: int = 500
              ) -> pl.DataFrame:
    """Patient-level duplicate pairs with masked identifiers (enable it in configuration).

    Patient IDs keep their last 3 characters and study UIDs their last 6 (see
    :func:`~dedup.metrics.format.mask_identifier`); names and birth dates are never read.
    """
    rows = archive.query(filtered_sql("metric_drilldown"),
                         {**(filters or Filters()).params(), "limit": limit})
    return rows.with_columns(
        pl.col(column).map_elements(mask_identifier, return_dtype=pl.String).alias(column)
        for column in _MASKED)


def _empty_checks() -> pl.DataFrame:
    schema = {"day": pl.Date, "institution": pl.String, "modality": pl.String,
              "family": pl.String, "outcome": pl.String, "checks": pl.Int64}
    return pl.DataFrame(schema=schema)
