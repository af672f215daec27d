"""The cost model: reference tables of exam cost, effective dose and storage cost.

Three editable CSV files, one row per item, each row with its ``source`` and a ``retrieved``
note (``dedup/data/exam_costs.csv``, ``effective_doses.csv``, ``storage_costs.csv``; the
``exam_costs``, ``effective_doses`` and ``storage_costs`` settings point at replacements):

``exam_costs.csv``
    ``family, cpt, cost_usd, basis, source, retrieved``: what one exam of a procedure family
    costs (by default the US Medicare payment for its most common CPT code).
``effective_doses.csv``
    ``family, msv, basis, source, retrieved``: typical adult effective dose of one exam.
``storage_costs.csv``
    ``item, value, unit, source, retrieved`` with the items ``price_per_gb_month``,
    ``retention_years`` and ``bytes_per_gb``.

Savings = avoided repeats x exam cost + reclaimable bytes / bytes_per_gb x price_per_gb_month
x 12 x retention_years (DESIGN.md, Cost model). :meth:`CostModel.what_if` returns a model
with other values for the dashboard's live inputs; the files are never changed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from importlib import resources
from io import StringIO
from pathlib import Path

import polars as pl

from dedup.config import Settings
from dedup.errors import UsageError

STORAGE_ITEMS = ("price_per_gb_month", "retention_years", "bytes_per_gb")
WHAT_IF_SOURCE = "what-if input on the dashboard (the reference file is unchanged)"
_NOTES = ("source", "retrieved")
_TABLES = {  # shipped file -> (key column, value column, other columns)
    "exam_costs.csv": ("family", "cost_usd", ("cpt", "basis")),
    "effective_doses.csv": ("family", "msv", ("basis",)),
    "storage_costs.csv": ("item", "value", ("unit",)),
}


@dataclass(frozen=True, slots=True)
class CostModel:
    """The reference tables in force, as polars frames with their notes columns.

    Attributes:
        exam_costs: ``family, cpt, cost_usd, basis, source, retrieved``.
        doses: ``family, msv, basis, source, retrieved``.
        storage: ``item, value, unit, source, retrieved``.
        files: where each table was read from (``shipped:<name>`` for the packaged copy).

    """

    exam_costs: pl.DataFrame
    doses: pl.DataFrame
    storage: pl.DataFrame
    files: tuple[str, str, str] = ("", "", "")

    def storage_value(self, item: str) -> float:
        """The value of one storage item, e.g. ``"price_per_gb_month"``."""
        row = self.storage.filter(pl.col("item") == item)
        return float(row["value"][0])

    @property
    def price_per_gb_month(self) -> float:
        """Storage price per GB-month (USD)."""
        return self.storage_value("price_per_gb_month")

    @property
    def retention_years(self) -> float:
        """Years a stored study is kept (and so paid for)."""
        return self.storage_value("retention_years")

    @property
    def bytes_per_gb(self) -> float:
        """Bytes in the GB the price is quoted per."""
        return self.storage_value("bytes_per_gb")

    def storage_cost(self, n_bytes: float) -> float:
        """What storing ``n_bytes`` costs over the whole retention period (USD)."""
        return n_bytes / self.bytes_per_gb * self.price_per_gb_month * 12 * self.retention_years

    def what_if(self, *, exam_cost_scale: float = 1.0, price_per_gb_month: float | None = None,
                retention_years: float | None = None, dose_scale: float = 1.0) -> CostModel:
        """A copy with other assumptions; changed rows name the what-if as their source.

        Args:
            exam_cost_scale: factor applied to every exam cost (1.0 = as in the file).
            price_per_gb_month: replacement storage price, or None to keep the file's.
            retention_years: replacement retention period, or None to keep the file's.
            dose_scale: factor applied to every effective dose.

        Raises:
            UsageError: a negative value.

        """
        values = {"exam_cost_scale": exam_cost_scale, "dose_scale": dose_scale,
                  "price_per_gb_month": price_per_gb_month, "retention_years": retention_years}
        bad = [f"{k}={v}" for k, v in values.items() if v is not None and v < 0]
        if bad:
            raise UsageError(f"what-if values must be >= 0: {', '.join(bad)}")
        storage = self.storage
        for item, value in (("price_per_gb_month", price_per_gb_month),
                            ("retention_years", retention_years)):
            if value is not None and value != self.storage_value(item):
                storage = _override(storage, pl.col("item") == item, "value", pl.lit(value))
        return replace(self, storage=storage,
                       exam_costs=_scaled(self.exam_costs, "cost_usd", exam_cost_scale),
                       doses=_scaled(self.doses, "msv", dose_scale))


def load_cost_model(settings: Settings | None = None) -> CostModel:
    """Read and validate the three reference tables named by ``settings``.

    Raises:
        UsageError: a file is missing or malformed; every problem is listed together.

    """
    settings = settings or Settings()
    paths = (settings.exam_costs, settings.effective_doses, settings.storage_costs)
    problems: list[str] = []
    frames = [_table(path, shipped, problems)
              for path, shipped in zip(paths, _TABLES, strict=True)]
    if not problems:
        missing = set(STORAGE_ITEMS) - set(frames[2]["item"].to_list())
        if missing:
            problems.append(f"{_where(paths[2], 'storage_costs.csv')}: no row for "
                            f"{sorted(missing)}; add item,value,unit,source,retrieved rows")
    if problems:
        raise UsageError("cost model: " + "; ".join(problems))
    exam, dose, storage = (str(p) if p else f"shipped:{name}"
                           for p, name in zip(paths, _TABLES, strict=True))
    return CostModel(frames[0], frames[1], frames[2], (exam, dose, storage))


def parse_table(text: str, shipped: str, where: str = "") -> pl.DataFrame:
    """Parse one reference table (``shipped`` names which of the three it is).

    Raises:
        UsageError: missing columns, duplicate keys, or values that are not numbers >= 0.

    """
    problems: list[str] = []
    frame = _parse(text, shipped, where or shipped, problems)
    if problems:
        raise UsageError("; ".join(problems))
    return frame


def _table(path: str, shipped: str, problems: list[str]) -> pl.DataFrame:
    where = _where(path, shipped)
    try:
        text = (Path(path).read_text(encoding="utf-8") if path else
                resources.files("dedup").joinpath("data", shipped).read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(f"cannot read {where} ({exc.strerror}); fix the path or unset the "
                        "setting to use the shipped table")
        return pl.DataFrame()
    return _parse(text, shipped, where, problems)


def _parse(text: str, shipped: str, where: str, problems: list[str]) -> pl.DataFrame:
    key, value, others = _TABLES[shipped]
    columns = (key, *others, value, *_NOTES)
    reader = csv.DictReader(StringIO(text))
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        problems.append(f"{where} lacks columns {missing}; expected {', '.join(columns)}")
        return pl.DataFrame()
    rows, seen = [], set()
    for line, row in enumerate(reader, start=2):
        name = (row[key] or "").strip().upper() if key == "family" else (row[key] or "").strip()
        number = _number(row[value])
        if not name or name in seen or number is None:
            why = ("no " + key if not name else f"{key} {name!r} repeats an earlier row"
                   if name in seen else f"{value}={row[value]!r} is not a number >= 0")
            problems.append(f"{where} line {line}: {why}")
            continue
        seen.add(name)
        rows.append({**{c: (row[c] or "").strip() for c in columns}, key: name, value: number})
    schema = {c: pl.String for c in columns} | {value: pl.Float64}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _number(raw: str | None) -> float | None:
    try:
        number = float((raw or "").strip())
    except ValueError:
        return None
    return number if number >= 0 else None


def _where(path: str, shipped: str) -> str:
    return repr(path) if path else f"shipped {shipped}"


def _scaled(frame: pl.DataFrame, column: str, factor: float) -> pl.DataFrame:
    if factor == 1.0:
        return frame
    return _override(frame, pl.lit(True), column, pl.col(column) * factor,
                     note=f" (x{factor:g} of the reference value)")


def _override(frame: pl.DataFrame, where: pl.Expr, column: str, value: pl.Expr,
              note: str = "") -> pl.DataFrame:
    return frame.with_columns(
        pl.when(where).then(value).otherwise(pl.col(column)).alias(column),
        pl.when(where).then(pl.lit(WHAT_IF_SOURCE + note) + pl.lit("; was: ") + pl.col("source"))
        .otherwise(pl.col("source")).alias("source"),
    )
