"""How figures read on the dashboard: money, sizes, doses, tables and masked identifiers.

Money is shown in whole units of the cost model's currency (``EUR 1,235``); sizes in the GB
the storage price is quoted per (or TB, 1,000 or 1,024 of them as that GB is decimal or
binary); tables get readable headers that carry their unit (``Reclaimable (GB)``,
``Exam savings (EUR)``), so no raw bytes or column names reach the page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from dedup.metrics.costs import CostModel

__all__ = ["column_label", "format_dose", "format_money", "format_size", "mask_identifier",
           "readable", "size_unit"]

_BINARY_GB = 2**30
_LABELS = {
    "period": "Period", "day": "Day", "institution": "Institution", "modality": "Modality",
    "family": "Procedure family", "kind": "Kind", "checks": "Checks",
    "avoided_repeats": "Avoided repeats", "ordered_anyway": "Ordered despite a prior",
    "repeats": "Repeats that happened", "duplicate_studies": "Duplicate studies",
    "duplicates": "Duplicates", "studies": "Studies", "pairs": "Pairs",
    "unvalued_avoided": "Avoided, no cost row", "code": "Code", "basis": "Basis",
    "source": "Source", "retrieved": "Retrieved", "cost_source": "Cost source",
    "dose_source": "Dose source", "item": "Item", "value": "Value", "unit": "Unit",
    "currency": "Currency", "run_id": "Run", "command": "Command", "status": "Status",
    "started_at": "Started", "ended_at": "Ended", "seconds": "Seconds", "files": "Files",
    "series": "Series", "instances": "Instances", "skipped": "Skipped",
    "recognised": "Recognised", "quarantined": "Quarantined", "errors": "Errors",
    "version": "Version", "reason": "Reason", "inputs": "Inputs",
    "patient_id": "Patient (masked)", "study_uid": "Study (masked)",
    "duplicate_of_study_uid": "Duplicate of (masked)", "prior_date": "Prior's date",
    "score": "Score", "msv": "Dose per exam (mSv)", "dose_msv": "Dose per exam (mSv)",
    "dose_avoided_msv": "Dose avoided (mSv)",
}
#: money columns: label, and decimals (sums are whole units; a unit price keeps its cents)
_MONEY = {"exam_savings": ("Exam savings", 0), "repeat_cost": ("Cost of repeats", 0),
          "storage_savings": ("Storage savings", 0),
          "estimated_savings": ("Estimated savings", 0), "cost": ("Cost per exam", 2),
          "exam_cost": ("Cost per exam", 2)}
_SIZES = {"bytes_reclaimable": "Reclaimable", "bytes": "Size"}


def format_money(value: float, currency: str = "USD") -> str:
    """``1234.5, "EUR"`` -> ``"EUR 1,235"``: whole units, the currency named."""
    return f"{currency} {value:,.0f}"


def format_size(n_bytes: float, bytes_per_gb: float = _BINARY_GB) -> str:
    """Bytes in the GB the price is quoted per: ``"0.10 GB"``, ``"12.3 GB"``, ``"1.5 TB"``."""
    unit, per_unit = size_unit(n_bytes, bytes_per_gb)
    value = n_bytes / per_unit
    if 0 < abs(value) < 0.01:
        return f"< 0.01 {unit}"
    decimals = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
    return f"{value:,.{decimals}f} {unit}"


def size_unit(n_bytes: float, bytes_per_gb: float = _BINARY_GB) -> tuple[str, float]:
    """``("GB", bytes per GB)`` or, from 1,000 GB (1,024 when the GB is binary) up, TB."""
    per_tb = bytes_per_gb * (1024 if bytes_per_gb == _BINARY_GB else 1000)
    return ("TB", per_tb) if abs(n_bytes) >= per_tb else ("GB", bytes_per_gb)


def format_dose(msv: float) -> str:
    """``28.37`` -> ``"28.4 mSv"``."""
    return f"{msv:,.1f} mSv"


def column_label(name: str, currency: str = "", unit: str = "") -> str:
    """A column's header: ``"avoided_repeats"`` -> ``"Avoided repeats"``, with its unit."""
    label = (_MONEY[name][0] if name in _MONEY else _SIZES.get(name)
             or _LABELS.get(name) or name.replace("_", " ").capitalize())
    suffix = currency if name in _MONEY else unit if name in _SIZES else ""
    return f"{label} ({suffix})" if suffix else label


def readable(frame: pl.DataFrame, model: CostModel,
             labels: dict[str, str] | None = None) -> pl.DataFrame:
    """A table as shown (and downloaded): readable headers, whole money, sizes in GB or TB.

    Times are shown to the minute and other decimals to 3 places.

    Args:
        frame: any metrics table.
        model: the cost model whose currency and GB the figures are in.
        labels: headers that replace the standard ones (e.g. ``{"period": "Month"}``).

    """
    labels = labels or {}
    columns = []
    for name, dtype in frame.schema.items():
        column, unit = pl.col(name), ""
        if name in _MONEY:
            decimals = _MONEY[name][1]
            column = column.round(decimals).cast(pl.Int64) if not decimals else column.round(2)
        elif name in _SIZES:
            unit, per_unit = size_unit(frame[name].abs().max() or 0, model.bytes_per_gb)  # type: ignore[arg-type]
            column = (column / per_unit).round(2)
        elif dtype == pl.Datetime:
            column = column.dt.strftime("%Y-%m-%d %H:%M")
        elif dtype == pl.Date:
            column = column.cast(pl.String)
        elif dtype == pl.Float64:
            column = column.round(3)
        header = labels.get(name) or column_label(name, model.currency, unit)
        columns.append(column.alias(header))
    return frame.select(columns)


def mask_identifier(value: str | None, keep: int = 3) -> str:
    """``"12345678"`` -> ``"•••678"``: enough to tell rows apart, not to identify anyone.

    UIDs (they contain dots) keep 6 characters; at most half of any value is shown.
    """
    text = value or ""
    if not text:
        return ""
    keep = min(6 if "." in text else keep, len(text) // 2)
    return "•••" + text[len(text) - keep:]
