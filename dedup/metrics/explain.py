"""Every figure in plain words: what it counts and which assumption prices it, with its source.

The dashboard's KPI help and the top of its Assumptions page read from here, so they name the
values and sources of the cost model in force (a what-if included), never file or query
names.
"""

from __future__ import annotations

import re
from collections import Counter

import polars as pl

from dedup.metrics.costs import CostModel
from dedup.metrics.format import format_money
from dedup.metrics.queries import QUERIES

__all__ = ["kpi_help", "short_source", "storage_assumptions"]

#: where a source's name ends: before its details, page address or transcription note
_NAME_END = re.compile(r";\s|,\s|:\s| as transcribed| as billed|\s\(x")


def short_source(source: str) -> str:
    """A source's name without its details, e.g. ``"Amazon S3 Standard storage"``."""
    return _NAME_END.split(source.strip(), maxsplit=1)[0].strip()


def kpi_help(model: CostModel) -> dict[str, str]:
    """The help of each KPI: what it counts, and the values and sources that price it."""
    storage = (f"{_price(model)} per GB-month for {model.retention_years:g} years "
               f"({_sources(model.storage, 'price_per_gb_month')}; "
               f"{_sources(model.storage, 'retention_years')})")
    return {
        "Avoided repeats": QUERIES["Avoided repeats"][1] + ".",
        "Estimated savings": (
            f"{QUERIES['Estimated savings'][1]}. Exam cost: {_exam_costs(model)}. Storage: "
            f"{storage}. An avoided repeat of a family without a cost row adds nothing."),
        "Storage reclaimable": (
            f"{QUERIES['Storage reclaimable'][1]}. In GB of {model.bytes_per_gb:,.0f} bytes, "
            "the GB the storage price is quoted per."),
        "Dose avoided": (
            f"{QUERIES['Dose avoided'][1]}: {_doses(model)}. MR and ultrasound use no "
            "ionizing radiation and count 0 mSv."),
    }


def storage_assumptions(model: CostModel) -> pl.DataFrame:
    """The storage assumptions as shown: ``assumption, value, source, retrieved``."""
    shown = {"price_per_gb_month": ("Storage price", f"{_price(model)} per GB-month"),
             "retention_years": ("Retention", f"{model.retention_years:g} years"),
             "bytes_per_gb": ("Bytes per GB", f"{model.bytes_per_gb:,.0f}")}
    rows = [{"assumption": shown[item][0], "value": shown[item][1], "source": source,
             "retrieved": retrieved}
            for item, source, retrieved in model.storage.select("item", "source", "retrieved")
            .iter_rows() if item in shown]
    cost = model.storage_cost(model.bytes_per_gb)
    rows.append({"assumption": "Cost of keeping 1 GB",
                 "value": f"{model.currency} {cost:,.2f} ({_price(model)} x 12 x "
                          f"{model.retention_years:g})",
                 "source": "price x 12 months x retention", "retrieved": ""})
    return pl.DataFrame(rows, schema=dict.fromkeys(("assumption", "value", "source",
                                                    "retrieved"), pl.String))


def _price(model: CostModel) -> str:
    return f"{model.currency} {model.price_per_gb_month:.4g}"


def _exam_costs(model: CostModel) -> str:
    costs = model.exam_costs["cost"]
    if not costs.len():
        return "no cost rows, so exams are not valued"
    low, high = (format_money(v, model.currency) for v in (costs.min(), costs.max()))  # type: ignore[arg-type]
    spread = low if low == high else f"{low} to {high}"
    return (f"{spread} per exam for {costs.len()} procedure families "
            f"({_sources(model.exam_costs)})")


def _doses(model: CostModel) -> str:
    ionizing = model.doses.filter(pl.col("msv") > 0)
    if not ionizing.height:
        return "no dose rows above 0 mSv"
    low, high = (float(value) for value in (ionizing["msv"].min(), ionizing["msv"].max()))  # type: ignore[arg-type]
    return (f"{low:g} to {high:g} mSv per exam "
            f"({_sources(ionizing)})")


def _sources(frame: pl.DataFrame, item: str = "") -> str:
    """The most cited source of a table's rows (or of one storage item), and its share."""
    rows = frame.filter(pl.col("item") == item) if item else frame
    counts = Counter(short_source(s) for s in rows["source"].to_list())
    name, cited = counts.most_common(1)[0]
    if cited == rows.height:
        return name
    return f"{name} for {cited} of {rows.height} rows, the others on the Assumptions page"
