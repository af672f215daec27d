"""Savings metrics: the single source of every number the dashboard and the notebooks show.

Each figure comes from one named query under ``dedup/archive/sql/metric_*.sql`` (listed in
:data:`QUERIES`) run on the *published snapshot* of the archive, never the live file, so the
dashboard neither waits on nor blocks the nightly batch. The queries return daily facts per
institution, modality and procedure family; :func:`ledger` values them with the reference
tables of :mod:`dedup.metrics.costs` (a row and its source behind every unit cost and
dose), and every other function here aggregates that ledger, so a total, a trend and a
breakdown always agree.

Typical use::

    with metrics.published("archive.duckdb") as archive:
        facts = metrics.facts(archive, metrics.Filters(start=date(2024, 1, 1)))
    model = metrics.load_cost_model(settings)
    metrics.kpis(facts, model).display()
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from dedup.archive.db import Archive, named_sql
from dedup.archive.publish import published_path
from dedup.config import Settings
from dedup.config.file import load_config
from dedup.errors import ArchiveError, ArchiveLocked
from dedup.metrics.costs import CostModel, load_cost_model

__all__ = [
    "DIMENSIONS", "KINDS", "PERIODS", "QUERIES", "ArchiveStatus", "CostModel", "Facts",
    "Filters", "Kpis", "breakdown", "drilldown", "facts", "filter_options", "format_bytes",
    "format_money", "kpis", "ledger", "load_cost_model", "load_settings", "mask_identifier",
    "published", "quarantine", "query_text", "repeat_intervals", "runs", "savings_detail",
    "status", "storage_by_kind", "top_sources", "trend",
]

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
KINDS = ("exact", "same-content", "partial", "near")
DIMENSIONS = ("institution", "modality", "family")
PERIODS = {"day": "1d", "week": "1w", "month": "1mo"}
_KEYS = ["day", *DIMENSIONS]
_MEASURES = ("checks", "avoided_repeats", "ordered_anyway", "repeats", "duplicate_studies",
             "bytes_reclaimable", "exam_savings", "repeat_cost", "storage_savings",
             "estimated_savings", "dose_avoided_msv", "unvalued_avoided")
_CHECK_TABLES = ("checks", "outcomes")


@dataclass(frozen=True, slots=True)
class Filters:
    """Which events count: a closed date range (None = open) and institutions (empty = all)."""

    start: date | None = None
    end: date | None = None
    institutions: tuple[str, ...] = ()

    def params(self) -> dict[str, Any]:
        """The named parameters every ``metric_*.sql`` query takes."""
        return {"start": self.start, "end": self.end,
                "institutions": list(self.institutions) or None}


@dataclass(frozen=True, slots=True)
class Facts:
    """The rows of the three metric queries for one set of filters (daily grain)."""

    checks: pl.DataFrame
    repeats: pl.DataFrame
    storage: pl.DataFrame
    filters: Filters = field(default_factory=Filters)


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


@dataclass(frozen=True, slots=True)
class ArchiveStatus:
    """Whether the published snapshot can be shown: ready, empty, missing, locked or error."""

    state: str
    message: str
    path: str
    summary: dict[str, Any] = field(default_factory=dict)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Settings from ``DEDUP_CONFIG`` (a TOML file) when set, else defaults + environment.

    Raises:
        UsageError: the configuration file is invalid.

    """
    env = dict(os.environ if environ is None else environ)
    if env.get("DEDUP_CONFIG"):
        return load_config(env["DEDUP_CONFIG"], env).settings
    return Settings().with_env(env)


def filtered_sql(name: str) -> str:
    """The named metric query with the date-range and institution filter applied."""
    return named_sql("metric_filter").replace("{query}", named_sql(name))


def query_text(name: str) -> str:
    """The SQL of a named metric query (for the dashboard's 'how is this computed')."""
    return filtered_sql(name)


@contextmanager
def published(archive_path: str | Path) -> Iterator[Archive]:
    """Open the latest published snapshot of ``archive_path`` read-only for one unit of work.

    A connection per unit of work (not one shared :class:`PublishedReader` connection) keeps
    concurrent dashboard sessions apart, and each picks up the newest generation.

    Raises:
        ArchiveError: nothing has been published for this archive.
        ArchiveLocked: another process holds the snapshot open for writing.

    """
    target = os.path.realpath(published_path(archive_path))
    if not os.path.exists(target):
        raise ArchiveError(_unpublished_message(Path(archive_path)))
    archive = Archive.open(target, read_only=True)
    try:
        yield archive
    finally:
        archive.close()


def status(archive_path: str | Path) -> ArchiveStatus:
    """What the dashboard can show for ``archive_path``, with a message that says what to do."""
    path = str(archive_path)
    try:
        with published(path) as archive:
            if _missing_tables(archive, ("studies", "duplicates", "runs")):
                return ArchiveStatus("error", f"{path!r} is not a dedup archive", path)
            summary = archive.run("metric_archive_summary").row(0, named=True)
    except ArchiveLocked as exc:
        return ArchiveStatus("locked", f"{exc}. The dashboard only reads the published "
                             "snapshot; close the program that holds it and reload.", path)
    except ArchiveError as exc:
        state = "missing" if not Path(path).exists() else "error"
        return ArchiveStatus(state, str(exc), path)
    if not summary["studies"]:
        return ArchiveStatus("empty", _EMPTY_MESSAGE.format(path=path), path, summary)
    return ArchiveStatus("ready", "", path, summary)


def facts(archive: Archive, filters: Filters | None = None) -> Facts:
    """Run the three metric queries with ``filters`` on an open (published) archive."""
    filters = filters or Filters()
    params = filters.params()
    checks = (_empty_checks() if _missing_tables(archive, _CHECK_TABLES)
              else archive.query(filtered_sql("metric_check_outcomes"), params))
    return Facts(checks, archive.query(filtered_sql("metric_repeats"), params),
                 archive.query(filtered_sql("metric_storage_duplicates"), params), filters)


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
    counts = ["checks", "avoided_repeats", "ordered_anyway", "repeats", "duplicate_studies",
              "bytes_reclaimable"]
    merged = pl.concat([checks, facts.repeats.select(*_KEYS, "repeats"), storage],
                       how="diagonal_relaxed")
    merged = merged.with_columns(pl.col(c).cast(pl.Int64).fill_null(0) for c in counts)
    daily = merged.group_by(_KEYS).agg(pl.col(c).sum() for c in counts)
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
    values: dict[str, Any] = {f.name: _cast(f.name, totals[f.name]) for f in fields(Kpis)}
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
    order = {k: i for i, k in enumerate(KINDS)}
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
    return archive.run("metric_repeat_intervals", (filters or Filters()).params())


def drilldown(archive: Archive, filters: Filters | None = None, limit: int = 500
              ) -> pl.DataFrame:
    """Patient-level duplicate pairs with masked identifiers (enable it in configuration).

    Patient IDs keep their last 3 characters and study UIDs their last 6 (see
    :func:`mask_identifier`); names and birth dates are never read.
    """
    rows = archive.run("metric_drilldown", {**(filters or Filters()).params(), "limit": limit})
    masked = [pl.col(c).map_elements(mask_identifier, return_dtype=pl.String).alias(c)
              for c in ("patient_id", "study_uid", "duplicate_of_study_uid")]
    return rows.with_columns(masked)


def mask_identifier(value: str | None, keep: int = 3) -> str:
    """``"12345678"`` -> ``"•••678"``: enough to tell rows apart, not to identify anyone.

    UIDs (they contain dots) keep 6 characters; at most half of any value is shown.
    """
    text = value or ""
    if not text:
        return ""
    keep = min(6 if "." in text else keep, len(text) // 2)
    return "•••" + text[len(text) - keep:]


def format_money(value: float) -> str:
    """``1234.5`` -> ``"$1,235"`` (US dollars, whole)."""
    return f"${value:,.0f}"


def format_bytes(value: float) -> str:
    """Binary units, one decimal: ``1536`` -> ``"1.5 KiB"``."""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:,.0f} B" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


_EMPTY_MESSAGE = (
    "The archive {path!r} has no studies yet, so there is nothing to count. Run the first "
    "batch: `dedup index /path/to/dicom --archive {path}` (or `dedup nightly --config FILE` "
    "from cron); the dashboard shows the snapshot it publishes when it finishes. To look "
    "around with generated data: `dedup demo --out demo`, then "
    "`dedup dashboard --archive demo/archive.duckdb`.")


def _unpublished_message(path: Path) -> str:
    if not path.exists():
        return (f"no archive at {str(path)!r}. Run the first batch (`dedup index PATH "
                f"--archive {path}` or `dedup nightly`), or try `dedup demo --out demo` and "
                "`dedup dashboard --archive demo/archive.duckdb`")
    return (f"the archive {str(path)!r} has no published snapshot yet. The dashboard reads "
            "the read-only copy each batch publishes when it finishes, so it never waits on "
            "the batch: let the running batch finish, or run `dedup index` / `dedup nightly` "
            "with `publish` on")


def _missing_tables(archive: Archive, names: tuple[str, ...]) -> list[str]:
    found = set(archive.query("SELECT table_name FROM information_schema.tables")
                ["table_name"].to_list())
    return [n for n in names if n not in found]


def _empty_checks() -> pl.DataFrame:
    schema = {"day": pl.Date, "institution": pl.String, "modality": pl.String,
              "family": pl.String, "outcome": pl.String, "checks": pl.Int64}
    return pl.DataFrame(schema=schema)


def _totals(rows: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    return rows.group_by(by).agg(pl.col(m).sum() for m in _MEASURES)


def _cast(name: str, value: Any) -> int | float:
    integral = name in ("avoided_repeats", "repeats", "ordered_anyway", "duplicate_studies",
                        "bytes_reclaimable", "unvalued_avoided")
    return int(value or 0) if integral else float(value or 0.0)
