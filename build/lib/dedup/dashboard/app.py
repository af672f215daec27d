"""The savings dashboard for administrators (Streamlit).

Run it with ``dedup dashboard [--archive FILE] [--port N]``, or ``streamlit run`` on this file
(or on ``dashboards/app.py`` in a checkout) with ``DEDUP_ARCHIVE`` (or ``DEDUP_CONFIG``) in
the environment. It ships inside the package, so an installed dedup serves it. It reads
only the snapshot each batch publishes, so it never waits on the nightly batch, and every
number on it comes from :mod:`dedup.metrics`: this file lays figures out and holds no logic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import altair as alt
import polars as pl
import streamlit as st

from dedup import metrics
from dedup.config import Settings

_PERIOD_NAMES = {"day": "Day", "week": "Week", "month": "Month"}
_DIMENSION_NAMES = {"institution": "Institution", "modality": "Modality",
                    "family": "Procedure family"}


@dataclass(frozen=True)
class View:
    """Everything one rerun shows, read once from the snapshot."""

    settings: Settings
    status: metrics.ArchiveStatus
    facts: metrics.Facts
    model: metrics.CostModel
    period: str
    runs: pl.DataFrame
    quarantine: pl.DataFrame
    drilldown: pl.DataFrame | None


def main() -> None:
    """Check the archive, read the filters, then show the selected page."""
    st.set_page_config(page_title="dedup savings", page_icon=":material/savings:",
                       layout="wide")
    settings = metrics.load_settings()
    status = metrics.status(settings.archive)
    if status.state != "ready":
        _show_status(status)
        return
    with metrics.published(settings.archive) as archive:
        filters, period = _sidebar(metrics.filter_options(metrics.facts(archive)))
        model = _what_if(metrics.load_cost_model(settings))
        view = View(settings, status, metrics.facts(archive, filters), model, period,
                    metrics.runs(archive), metrics.quarantine(archive),
                    metrics.drilldown(archive, filters) if settings.dashboard_drilldown
                    else None)
    st.navigation(_pages(view)).run()


def _pages(view: View) -> list[st.Page]:
    def overview() -> None:
        _overview(view)

    def batch_runs() -> None:
        _runs(view)

    def assumptions() -> None:
        _assumptions(view)

    def drilldown() -> None:
        _drilldown(view)

    pages = [st.Page(overview, title="Overview", icon=":material/insights:",
                     url_path="overview", default=True),
             st.Page(batch_runs, title="Batch runs", icon=":material/schedule:",
                     url_path="runs"),
             st.Page(assumptions, title="Assumptions", icon=":material/tune:",
                     url_path="assumptions")]
    if view.drilldown is not None:
        pages.append(st.Page(drilldown, title="Drill-down (masked)", icon=":material/person:",
                             url_path="drilldown"))
    return pages


def _show_status(status: metrics.ArchiveStatus) -> None:
    st.title("dedup savings")
    if status.state == "empty":
        st.info(f"**Nothing to show yet.** {status.message}", icon=":material/inbox:")
    elif status.state == "locked":
        st.warning(f"**The archive is locked.** {status.message}", icon=":material/lock:")
    else:
        st.error(f"**No archive to show.** {status.message}", icon=":material/error:")
    st.caption(f"Archive setting: `{status.path}` (change it with `dedup dashboard --archive "
               "FILE` or the DEDUP_ARCHIVE environment variable).")


def _sidebar(options: tuple[date | None, date | None, list[str]]
             ) -> tuple[metrics.Filters, str]:
    first, last, institutions = options
    st.sidebar.header("Filters")
    start, end = first, last
    if first is not None and last is not None:
        picked = st.sidebar.date_input("Date range", value=(first, last), min_value=first,
                                       max_value=last, key="dates")
        if isinstance(picked, tuple) and picked:
            start, end = picked[0], picked[-1]
    chosen = st.sidebar.multiselect("Institutions", institutions, key="institutions",
                                    placeholder="All institutions")
    period = st.sidebar.radio("Trends by", list(metrics.PERIODS), index=2, horizontal=True,
                              format_func=_PERIOD_NAMES.__getitem__, key="period")
    return metrics.Filters(start, end, tuple(chosen)), str(period)


def _what_if(model: metrics.CostModel) -> metrics.CostModel:
    box = st.sidebar.expander("What if…", expanded=False, icon=":material/science:")
    box.caption("Try other assumptions for this session; the reference files stay unchanged.")
    scale = box.slider("Exam costs, % of the reference", 0, 300, 100, 5, key="cost_scale")
    price = box.slider("Storage price, USD per GB-month", 0.0,
                       max(0.25, 4 * model.price_per_gb_month), model.price_per_gb_month,
                       0.001, format="%.3f", key="price")
    years = box.slider("Retention, years", 0.0, max(30.0, model.retention_years),
                       model.retention_years, 0.5, key="years")
    return model.what_if(exam_cost_scale=scale / 100, price_per_gb_month=price,
                         retention_years=years)


def _overview(view: View) -> None:
    filters, summary = view.facts.filters, view.status.summary
    st.title("What dedup saved")
    where = ", ".join(filters.institutions) or "all institutions"
    st.caption(f"{filters.start} to {filters.end} · {where} · published snapshot of "
               f"`{view.status.path}` ({summary['studies']:,} studies, last batch ended "
               f"{summary['last_run_ended']:%Y-%m-%d %H:%M}).")
    kpis = metrics.kpis(view.facts, view.model)
    _kpi_row(kpis)
    if not (kpis.avoided_repeats or kpis.repeats or kpis.duplicate_studies):
        st.info("No avoided repeats, repeats or duplicates in this selection; widen the "
                "date range or choose other institutions.", icon=":material/filter_alt:")
    _trends(view)
    _breakdowns(view)
    _storage(view)
    st.subheader("Top duplicate sources")
    _table(metrics.top_sources(view.facts, view.model), "top_duplicate_sources")


def _kpi_row(kpis: metrics.Kpis) -> None:
    for column, (label, value) in zip(st.columns(4), kpis.display().items(), strict=True):
        query, how = metrics.QUERIES[label]
        column.metric(label, value, help=f"{how} (query {query})", border=True)
    unvalued = (f" · {kpis.unvalued_avoided} avoided repeats have no cost row"
                if kpis.unvalued_avoided else "")
    st.caption(f"{kpis.repeats:,} repeats happened anyway ({kpis.ordered_anyway:,} ordered "
               f"despite a prior found) · {kpis.duplicate_studies:,} duplicate studies in "
               f"storage · exam savings {metrics.format_money(kpis.exam_savings)} + storage "
               f"savings {metrics.format_money(kpis.storage_savings)}{unvalued}")


def _trends(view: View) -> None:
    st.subheader(f"Over time, by {view.period}")
    frame = metrics.trend(view.facts, view.model, view.period)
    left, right = st.columns(2)
    left.altair_chart(_lines(frame, ["avoided_repeats", "repeats"], "Exams",
                             "Repeats avoided and repeats that happened"), width="stretch")
    right.altair_chart(_lines(frame, ["exam_savings", "storage_savings"], "USD",
                              "Estimated savings"), width="stretch")
    _table(frame, f"trend_by_{view.period}")


def _lines(frame: pl.DataFrame, columns: list[str], unit: str, title: str) -> alt.Chart:
    long = frame.unpivot(index="period", on=columns, variable_name="measure",
                         value_name="value").with_columns(
        pl.col("measure").str.replace_all("_", " "))
    return alt.Chart(long, title=title).mark_line(point=True).encode(
        x=alt.X("period:T", title=None), y=alt.Y("value:Q", title=unit),
        color=alt.Color("measure:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["period:T", "measure:N", alt.Tooltip("value:Q", format=",.2f")],
    ).properties(height=260)


def _breakdowns(view: View) -> None:
    st.subheader("Breakdowns")
    tabs = st.tabs(list(_DIMENSION_NAMES.values()))
    for tab, by in zip(tabs, _DIMENSION_NAMES, strict=True):
        frame = metrics.breakdown(view.facts, view.model, by)
        long = frame.unpivot(index=by, on=["avoided_repeats", "repeats", "duplicate_studies"],
                             variable_name="measure", value_name="count").with_columns(
            pl.col("measure").str.replace_all("_", " "))
        chart = alt.Chart(long).mark_bar().encode(
            y=alt.Y(f"{by}:N", title=None, sort="-x"), x=alt.X("count:Q", title="Studies"),
            color=alt.Color("measure:N", title=None, legend=alt.Legend(orient="bottom")),
            tooltip=[f"{by}:N", "measure:N", "count:Q"]).properties(height=220)
        with tab:
            st.altair_chart(chart, width="stretch")
            _table(frame, f"by_{by}")


def _storage(view: View) -> None:
    st.subheader("Storage duplicates by kind")
    frame = metrics.storage_by_kind(view.facts, view.model)
    chart = alt.Chart(frame.with_columns((pl.col("bytes_reclaimable") / 2**20).alias("MiB"))
                      ).mark_bar().encode(
        x=alt.X("kind:N", sort=list(metrics.KINDS), title=None),
        y=alt.Y("MiB:Q", title="Reclaimable (MiB)"),
        tooltip=["kind:N", "studies:Q", "pairs:Q", alt.Tooltip("MiB:Q", format=",.1f")],
    ).properties(height=220)
    left, right = st.columns([1, 2])
    left.altair_chart(chart, width="stretch")
    with right:
        _table(frame, "storage_by_kind")


def _runs(view: View) -> None:
    st.title("Batch runs")
    st.caption("The latest runs of `dedup index` / `dedup nightly`, newest first, as of the "
               "published snapshot.")
    latest = view.runs.head(1)
    if latest.height:
        row = latest.row(0, named=True)
        show: Callable[..., object] = st.success if row["status"] == "ok" else st.warning
        show(f"Run {row['run_id']} ({row['command']}) ended `{row['status']}` at "
             f"{row['ended_at']:%Y-%m-%d %H:%M}: {row['instances']:,} new instances, "
             f"{row['quarantined']:,} quarantined, {row['errors']:,} errors.")
    _table(view.runs, "batch_runs")
    st.subheader("Quarantine")
    st.caption("Inputs that could not be indexed, per run and reason. Counts only: locations "
               "stay in `dedup quarantine`, since paths can carry names or IDs.")
    if view.quarantine.height:
        _table(view.quarantine, "quarantine")
    else:
        st.success("Nothing quarantined.", icon=":material/check_circle:")


def _assumptions(view: View) -> None:
    model = view.model
    st.title("Assumptions")
    st.caption("Every figure is a query over the published snapshot times a row of these "
               "reference tables. The sidebar's *What if…* inputs change them for this "
               "session only; rows they change name the what-if as their source.")
    st.markdown(
        f"Storage: **USD {model.storage_cost(model.bytes_per_gb):,.2f}** per GB "
        f"kept {model.retention_years:g} years (USD {model.price_per_gb_month:.4f} per "
        f"GB-month x 12 x {model.retention_years:g}).")
    st.subheader("Savings per procedure family")
    _table(metrics.savings_detail(view.facts, model), "savings_by_family")
    for title, frame, name, file in (
            ("Exam cost per procedure family", model.exam_costs, "exam_costs", model.files[0]),
            ("Effective dose per procedure family", model.doses, "effective_doses",
             model.files[1]),
            ("Storage", model.storage, "storage_costs", model.files[2])):
        st.subheader(title)
        st.caption(f"File: `{file}`")
        _table(frame, name)
    with st.expander("How each figure is computed"):
        for label, (queries, how) in metrics.QUERIES.items():
            st.markdown(f"**{label}**: {how}.")
            for query in queries.split(" + "):
                st.code(metrics.filtered_sql(query), language="sql")


def _drilldown(view: View) -> None:
    st.title("Duplicate pairs (masked)")
    st.warning("Patient-level view, enabled by the `dashboard_drilldown` setting. Patient IDs "
               "and study UIDs are masked; names and birth dates are never shown.",
               icon=":material/shield_person:")
    assert view.drilldown is not None
    _table(view.drilldown, "duplicate_pairs_masked")


def _table(frame: pl.DataFrame, name: str) -> None:
    """Show a table and offer exactly what is shown as CSV (decimals rounded to 4 places)."""
    frame = frame.with_columns(pl.col(pl.Float64).round(4), pl.col(pl.Date).cast(pl.String))
    st.dataframe(frame, hide_index=True, width="stretch")
    st.download_button(f"Download {name}.csv", frame.write_csv(), file_name=f"{name}.csv",
                       mime="text/csv", key=f"csv-{name}", icon=":material/download:")


if __name__ == "__main__":  # Streamlit runs this file as a script
    main()
