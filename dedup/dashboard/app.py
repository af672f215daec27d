"""The savings dashboard for administrators (Streamlit).

Run it with ``dedup dashboard [--archive FILE] [--port N]``, or ``streamlit run`` on this file
(or on ``dashboards/app.py`` in a checkout) with ``DEDUP_ARCHIVE`` (or ``DEDUP_CONFIG``) in
the environment. It ships inside the package, so an installed dedup serves it. It reads
only the snapshot each batch publishes, so it never waits on the nightly batch, and every
number on it comes from :mod:`dedup.metrics`: this file lays figures out and holds no logic.
Nothing on the page is fetched from outside the server it is served by: the page and its
navigation have no icon, since Streamlit loads the Material Symbols image of a page's icon
(its favicon) from fonts.gstatic.com; icons elsewhere come from the font it serves itself.
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
_TIME_UNITS = {"day": "yearmonthdate", "week": "yearmonthdate", "month": "yearmonth"}
_DIMENSION_NAMES = {"institution": "Institution", "modality": "Modality",
                    "family": "Procedure family"}
_COUNT_AXIS = alt.Axis(format="d", tickMinStep=1)


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
    st.set_page_config(page_title="dedup savings", layout="wide")
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

    pages = [st.Page(overview, title="Overview",
                     url_path="overview", default=True),
             st.Page(batch_runs, title="Batch runs",
                     url_path="runs"),
             st.Page(assumptions, title="Assumptions",
                     url_path="assumptions")]
    if view.drilldown is not None:
        pages.append(st.Page(drilldown, title="Drill-down (masked)",
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
    price = box.slider(f"Storage price, {model.currency} per GB-month", 0.0,
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
               f"{summary['last_run_ended']:%Y-%m-%d %H:%M}) · money in "
               f"{view.model.currency}.")
    kpis = metrics.kpis(view.facts, view.model)
    _kpi_row(kpis, metrics.kpi_help(view.model), view.model.currency)
    if not (kpis.avoided_repeats or kpis.repeats or kpis.duplicate_studies):
        st.info("No avoided repeats, repeats or duplicates in this selection; widen the "
                "date range or choose other institutions.", icon=":material/filter_alt:")
    _projection(metrics.projection(view.facts, view.model))
    _trends(view)
    _breakdowns(view)
    _storage(view)
    st.subheader("Top duplicate sources")
    _table(view, metrics.top_sources(view.facts, view.model), "top-duplicate-sources")


def _kpi_row(kpis: metrics.Kpis, helps: dict[str, str], currency: str) -> None:
    for column, (label, value) in zip(st.columns(4), kpis.display().items(), strict=True):
        column.metric(label, value, help=helps[label], border=True)
    unvalued = (f" · {kpis.unvalued_avoided:,} avoided repeats have no cost row and add "
                "nothing" if kpis.unvalued_avoided else "")
    st.caption(f"{kpis.repeats:,} repeats happened anyway ({kpis.ordered_anyway:,} ordered "
               f"despite a prior found) · {kpis.duplicate_studies:,} duplicate studies in "
               f"storage · exam savings {metrics.format_money(kpis.exam_savings, currency)} + "
               f"storage savings {metrics.format_money(kpis.storage_savings, currency)}"
               f"{unvalued}")


def _projection(projection: metrics.Projection | None) -> None:
    if projection is None:
        return
    st.subheader("A year at this month's rate")
    for column, (label, value) in zip(st.columns(4)[:3], projection.display().items(), strict=True):
        column.metric(label, value, border=True)
    st.caption(f"From {projection.first:%d %b %Y} to {projection.last:%d %b %Y}, the last "
               f"month of the selection ({projection.days} days): avoided repeats "
               f"{projection.avoided_repeats:,}, dose avoided "
               f"{metrics.format_dose(projection.dose_avoided_msv)}, savings "
               f"{metrics.format_money(projection.estimated_savings, projection.currency)}; "
               f"each x {metrics.DAYS_PER_YEAR:g} / {projection.days}. A rate from a few days "
               "is a rough one.")


def _trends(view: View) -> None:
    name = _PERIOD_NAMES[view.period]
    st.subheader(f"Over time, by {view.period}")
    frame = metrics.trend(view.facts, view.model, view.period)
    left, right = st.columns(2)
    left.altair_chart(_bars(frame, ["avoided_repeats", "repeats"], view.period, "Exams",
                            "Repeats avoided and repeats that happened", grouped=True),
                      width="stretch")
    right.altair_chart(_bars(frame, ["exam_savings", "storage_savings"], view.period,
                             view.model.currency, "Estimated savings", grouped=False),
                       width="stretch")
    _table(view, frame, f"trend-by-{view.period}", {"period": name})


def _bars(frame: pl.DataFrame, columns: list[str], period: str, unit: str, title: str,
          grouped: bool) -> alt.Chart:
    """Bars per period: side by side for counts, stacked for money (the parts of a total)."""
    long = frame.unpivot(index="period", on=columns, variable_name="measure",
                         value_name="value").with_columns(
        pl.col("measure").replace_strict({c: metrics.column_label(c) for c in columns}))
    time = f"{_TIME_UNITS[period]}(period)"
    x = alt.X(f"{time}:O", title=None, axis=alt.Axis(labelOverlap="greedy", labelAngle=-45))
    y = (alt.Y("value:Q", title=unit, axis=_COUNT_AXIS) if grouped else
         alt.Y("value:Q", title=unit, stack=True, axis=alt.Axis(format=",.0f")))
    chart = alt.Chart(long, title=title).mark_bar().encode(
        x=x, y=y, color=alt.Color("measure:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip(f"{time}:T", title=_PERIOD_NAMES[period]),
                 alt.Tooltip("measure:N", title="Measure"),
                 alt.Tooltip("value:Q", title=unit, format=",.0f")])
    return (chart.encode(xOffset="measure:N") if grouped else chart).properties(height=280)


def _breakdowns(view: View) -> None:
    st.subheader("Breakdowns")
    tabs = st.tabs(list(_DIMENSION_NAMES.values()))
    measures = ["avoided_repeats", "repeats", "duplicate_studies"]
    for tab, by in zip(tabs, _DIMENSION_NAMES, strict=True):
        frame = metrics.breakdown(view.facts, view.model, by)
        long = frame.unpivot(index=by, on=measures, variable_name="measure",
                             value_name="count").with_columns(
            pl.col("measure").replace_strict({m: metrics.column_label(m) for m in measures}))
        chart = alt.Chart(long).mark_bar().encode(
            y=alt.Y(f"{by}:N", title=None, sort=frame[by].to_list(),
                    axis=alt.Axis(labelLimit=400)),
            yOffset=alt.YOffset("measure:N", sort=[metrics.column_label(m) for m in measures]),
            x=alt.X("count:Q", title="Exams or studies", axis=_COUNT_AXIS),
            color=alt.Color("measure:N", title=None, legend=alt.Legend(orient="bottom"),
                            sort=[metrics.column_label(m) for m in measures]),
            tooltip=[alt.Tooltip(f"{by}:N", title=_DIMENSION_NAMES[by]),
                     alt.Tooltip("measure:N", title="Measure"),
                     alt.Tooltip("count:Q", title="Count")],
        ).properties(height=alt.Step(16))
        with tab:
            st.altair_chart(chart, width="stretch")
            _table(view, frame, f"breakdown-by-{by}")


def _storage(view: View) -> None:
    st.subheader("Storage duplicates by kind")
    frame = metrics.storage_by_kind(view.facts, view.model)
    shown = metrics.readable(frame, view.model)
    size = next(column for column in shown.columns if column.startswith("Reclaimable"))
    chart = alt.Chart(shown).mark_bar().encode(
        x=alt.X("Kind:N", sort=list(metrics.KINDS), title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y(f"{size}:Q", title=size),
        tooltip=["Kind:N", "Studies:Q", "Pairs:Q", alt.Tooltip(f"{size}:Q", format=",.2f")],
    ).properties(height=240)
    left, right = st.columns([1, 2])
    left.altair_chart(chart, width="stretch")
    with right:
        _table(view, frame, "storage-by-kind")


def _runs(view: View) -> None:
    st.title("Batch runs")
    st.caption("The latest runs of `dedup index` / `dedup nightly`, newest first, as of the "
               "published snapshot.")
    latest = view.runs.head(1)
    if latest.height:
        row = latest.row(0, named=True)
        show: Callable[..., object] = st.success if row["status"] == "ok" else st.warning
        show(f"Run {row['run_id']} ({row['command']}) ended {row['status']} at "
             f"{row['ended_at']:%Y-%m-%d %H:%M}: {row['instances']:,} new instances, "
             f"{row['quarantined']:,} quarantined, {row['errors']:,} errors.")
    _table(view, view.runs, "batch-runs")
    st.subheader("Quarantine")
    st.caption("Inputs that could not be indexed, per run and reason. Counts only: locations "
               "stay in `dedup quarantine`, since paths can carry names or IDs.")
    if view.quarantine.height:
        _table(view, view.quarantine, "quarantine")
    else:
        st.success("Nothing quarantined.", icon=":material/check_circle:")


def _assumptions(view: View) -> None:
    model = view.model
    st.title("Assumptions")
    st.caption("The values that price every figure, and where each comes from. The "
               "sidebar's *What if…* inputs change them for this session only; a changed row "
               "names the what-if as its source.")
    st.subheader("Storage")
    _table(view, metrics.storage_assumptions(model), "storage-assumptions")
    st.subheader("Cost of one exam, per procedure family")
    _table(view, model.exam_costs.select("family", "code", "cost", "source", "retrieved",
                                         "basis"), "exam-costs")
    st.subheader("Effective dose of one exam, per procedure family")
    _table(view, model.doses.select("family", "msv", "source", "retrieved", "basis"),
           "effective-doses")
    st.subheader("Savings per procedure family")
    st.caption("The avoided repeats and repeats in this selection, with the cost and dose "
               "each was valued at.")
    _table(view, metrics.savings_detail(view.facts, model), "savings-by-family")
    st.caption("Tables in force (the `exam_costs`, `effective_doses` and `storage_costs` "
               f"settings): {', '.join(f'`{file}`' for file in model.files)}.")
    with st.expander("How each figure is computed (SQL)", icon=":material/code:"):
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
    _table(view, view.drilldown, "duplicate-pairs-masked")


def _table(view: View, frame: pl.DataFrame, name: str,
           labels: dict[str, str] | None = None) -> None:
    """Show a table as people read it, and offer exactly what is shown as CSV."""
    shown = metrics.readable(frame, view.model, labels)
    st.dataframe(shown, hide_index=True, width="stretch")
    st.download_button(f"Download {name}.csv", shown.write_csv(), file_name=f"{name}.csv",
                       mime="text/csv", key=f"csv-{name}", icon=":material/download:")


if __name__ == "__main__":  # Streamlit runs this file as a script
    main()
