"""The cost model: reference tables of exam cost, effective dose and storage cost.

Three editable CSV files, one row per item, each row with its ``source`` and a ``retrieved``
note (``dedup/data/exam_costs.csv``, ``effective_doses.csv``, ``storage_costs.csv``; the
``exam_costs``, ``effective_doses`` and ``storage_costs`` settings point at replacements, or
at another shipped table as ``shipped:<name>``, e.g. ``shipped:exam_costs_de_goae.csv``):

``exam_costs.csv``
    ``family, code, cost, currency, basis, source, retrieved``: what one exam of a procedure
    family costs, in the ISO 4217 ``currency`` of the row (the shipped table: the US Medicare
    payment for the family's most common CPT code, in USD).
``effective_doses.csv``
    ``family, msv, basis, source, retrieved``: typical adult effective dose of one exam.
``storage_costs.csv``
    ``item, value, unit, currency, source, retrieved`` with the items ``price_per_gb_month``
    (its row names the currency), ``retention_years`` and ``bytes_per_gb``.

Every money row must be in one currency (a model that adds euros to dollars is refused), so a
site's figures are in its own currency throughout. Savings = avoided repeats x exam cost +
reclaimable bytes / bytes_per_gb x price_per_gb_month x 12 x retention_years (DESIGN.md, Cost
model). :meth:`CostModel.what_if` returns a model with other values for the dashboard's live
inputs; the files are never changed.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, replace
from importlib import resources
from io import StringIO
from pathlib import Path

import polars as pl

from dedup.config import Settings
from dedup.config.file import SHIPPED_TABLE
from dedup.errors import UsageError

STORAGE_ITEMS = ("price_per_gb_month", "retention_years", "bytes_per_gb")
WHAT_IF_SOURCE = "what-if input on the dashboard (the reference file is unchanged)"
SHIPPED = SHIPPED_TABLE
_NOTES = ("source", "retrieved")
_TABLES = {  # shipped file -> (key column, value column, other columns)
    "exam_costs.csv": ("family", "cost", ("code", "basis", "currency")),
    "effective_doses.csv": ("family", "msv", ("basis",)),
    "storage_costs.csv": ("item", "value", ("unit", "currency")),
}
_CURRENCY = re.compile(r"[A-Z]{3}")
_OLD_COLUMNS = {"cost_usd": "rename cost_usd to cost and add a currency column (USD)",
                "cpt": "rename cpt to code"}


@dataclass(frozen=True, slots=True)
class CostModel:
    """The reference tables in force, as polars frames with their notes columns.

    Attributes:
        exam_costs: ``family, code, basis, currency, cost, source, retrieved``.
        doses: ``family, basis, msv, source, retrieved``.
        storage: ``item, unit, currency, value, source, retrieved``.
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
    def currency(self) -> str:
        """The ISO 4217 code every money figure of this model is in (e.g. ``"EUR"``)."""
        row = self.storage.filter(pl.col("item") == "price_per_gb_month")
        return str(row["currency"][0])

    @property
    def price_per_gb_month(self) -> float:
        """Storage price per GB-month (in :attr:`currency`)."""
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
        """What storing ``n_bytes`` costs over the whole retention period."""
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
                       exam_costs=_scaled(self.exam_costs, "cost", exam_cost_scale),
                       doses=_scaled(self.doses, "msv", dose_scale))


def load_cost_model(settings: Settings | None = None) -> CostModel:
    """Read and validate the three reference tables named by ``settings``.

    Raises:
        UsageError: a file is missing or malformed, or its money rows mix currencies; every
            problem is listed together.

    """
    settings = settings or Settings()
    paths = (settings.exam_costs, settings.effective_doses, settings.storage_costs)
    problems: list[str] = []
    frames = [_table(path, kind, problems) for path, kind in zip(paths, _TABLES, strict=True)]
    if not problems:
        missing = set(STORAGE_ITEMS) - set(frames[2]["item"].to_list())
        if missing:
            problems.append(f"{_where(paths[2], 'storage_costs.csv')}: no row for "
                            f"{sorted(missing)}; add item,value,unit,currency,source,retrieved "
                            "rows")
        else:
            problems += _mixed_currencies(frames[0], frames[2])
    if problems:
        raise UsageError("cost model: " + "; ".join(problems))
    exam, dose, storage = (str(p) if p else f"{SHIPPED}{name}"
                           for p, name in zip(paths, _TABLES, strict=True))
    return CostModel(frames[0], frames[1], frames[2], (exam, dose, storage))


def parse_table(text: str, kind: str, where: str = "") -> pl.DataFrame:
    """Parse one reference table (``kind`` is the shipped file name of its kind).

    Raises:
        UsageError: missing columns, duplicate keys, values that are not numbers >= 0, or a
            money row without an ISO 4217 currency code.

    """
    problems: list[str] = []
    frame = _parse(text, kind, where or kind, problems)
    if problems:
        raise UsageError("; ".join(problems))
    return frame


def shipped_tables(kind: str) -> list[str]:
    """The shipped tables of one kind, e.g. ``exam_costs.csv`` and ``exam_costs_de_goae.csv``."""
    stem = kind.removesuffix(".csv")
    return sorted(entry.name for entry in resources.files("dedup").joinpath("data").iterdir()
                  if entry.name.startswith(stem) and entry.name.endswith(".csv"))


def _table(path: str, kind: str, problems: list[str]) -> pl.DataFrame:
    where = _where(path, kind)
    name = path.removeprefix(SHIPPED) if path.startswith(SHIPPED) else kind
    try:
        if path and not path.startswith(SHIPPED):
            text = Path(path).read_text(encoding="utf-8")
        elif name in shipped_tables(kind):
            text = resources.files("dedup").joinpath("data", name).read_text(encoding="utf-8")
        else:
            problems.append(f"no shipped table {where}; the shipped {kind.removesuffix('.csv')} "
                            f"tables are {', '.join(shipped_tables(kind))}")
            return pl.DataFrame()
    except OSError as exc:
        problems.append(f"cannot read {where} ({exc.strerror}); fix the path or unset the "
                        "setting to use the shipped table")
        return pl.DataFrame()
    return _parse(text, kind, where, problems)


def _parse(text: str, kind: str, where: str, problems: list[str]) -> pl.DataFrame:
    key, value, others = _TABLES[kind]
    columns = (key, *others, value, *_NOTES)
    reader = csv.DictReader(StringIO(text))
    found = reader.fieldnames or []
    missing = [c for c in columns if c not in found]
    if missing:
        hints = "; ".join(hint for old, hint in _OLD_COLUMNS.items() if old in found)
        problems.append(f"{where} lacks columns {missing}; expected {', '.join(columns)}"
                        + (f" ({hints})" if hints else ""))
        return pl.DataFrame()
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    for line, raw in enumerate(reader, start=2):
        row = {c: (raw[c] or "").strip() for c in columns}
        row[key] = row[key].upper() if key == "family" else row[key]
        if "currency" in row:
            row["currency"] = row["currency"].upper()
        why = _row_problem(row, key, value, seen)
        if why:
            problems.append(f"{where} line {line}: {why}")
            continue
        seen.add(row[key])
        rows.append({**row, value: float(row[value])})
    schema = {c: pl.String for c in columns} | {value: pl.Float64}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _row_problem(row: dict[str, str], key: str, value: str, seen: set[str]) -> str:
    """What is wrong with one row of a reference table, or ``""``."""
    name = row[key]
    if not name:
        return f"no {key}"
    if name in seen:
        return f"{key} {name!r} repeats an earlier row"
    if _number(row[value]) is None:
        return f"{value}={row[value]!r} is not a number >= 0"
    money = "currency" in row and (key == "family" or name == "price_per_gb_month")
    if money and not _CURRENCY.fullmatch(row["currency"]):
        return (f"currency={row['currency']!r} is not an ISO 4217 code; write the currency "
                "of the figure, e.g. USD or EUR")
    return ""


def _mixed_currencies(exam: pl.DataFrame, storage: pl.DataFrame) -> list[str]:
    exam_currencies = sorted(set(exam["currency"].to_list()))
    price = storage.filter(pl.col("item") == "price_per_gb_month")["currency"][0]
    if exam_currencies in ([], [price]):
        return []
    return [f"exam costs are in {', '.join(exam_currencies)} but the storage price is in "
            f"{price}; every money figure must be in one currency: use one site's tables "
            "(e.g. exam_costs = \"shipped:exam_costs_de_goae.csv\" with storage_costs = "
            "\"shipped:storage_costs_de.csv\") or convert the figures"]


def _number(raw: str | None) -> float | None:
    try:
        number = float((raw or "").strip())
    except ValueError:
        return None
    return number if number >= 0 else None


def _where(path: str, kind: str) -> str:
    return repr(path) if path else f"shipped {kind}"


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
