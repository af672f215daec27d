"""The dashboard script without a browser (Streamlit's AppTest): states before any data, and
the overview of the demo archive in another site's currency."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dedup import metrics
from dedup.archive.db import Archive
from dedup.archive.publish import publish
from dedup.config import Settings
from tests.conftest import REPO
from tests.dashboard.serving import dashboard_config

APP = str(REPO / "dashboards" / "app.py")


def _run(archive: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.delenv("DEDUP_CONFIG", raising=False)
    monkeypatch.setenv("DEDUP_ARCHIVE", str(archive))
    return AppTest.from_file(APP, default_timeout=60).run()


def test_missing_archive_says_how_to_make_one(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    app = _run(tmp_path / "none.duckdb", monkeypatch)
    assert not app.exception
    assert "No archive to show" in app.error[0].value and "dedup demo" in app.error[0].value


def test_empty_archive_shows_the_first_steps(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "archive.duckdb"
    with Archive.open(path) as archive:
        publish(archive)
    app = _run(path, monkeypatch)
    assert not app.exception and not app.error
    assert "Nothing to show yet" in app.info[0].value and "dedup index" in app.info[0].value


def test_dashboard_imports_only_metrics_and_config() -> None:
    import ast

    tree = ast.parse((REPO / "dedup" / "dashboard" / "app.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {f"{node.module}.{alias.name}" for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module for alias in node.names}
    ours = {name for name in imported if name.startswith("dedup")}
    assert ours == {"dedup.metrics", "dedup.config.Settings"}


def test_the_overview_reads_in_the_sites_currency_and_plain_words(
        demo_archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    german = {"exam_costs": "shipped:exam_costs_de_goae.csv",
              "storage_costs": "shipped:storage_costs_de.csv"}
    monkeypatch.setenv("DEDUP_CONFIG", str(dashboard_config(tmp_path, demo_archive, **german)))
    monkeypatch.delenv("DEDUP_ARCHIVE", raising=False)
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert not app.exception
    model = metrics.load_cost_model(Settings(**german))
    with metrics.published(demo_archive) as snapshot:
        facts = metrics.facts(snapshot)
    shown = {m.label: m.value for m in app.metric}
    rate = metrics.projection(facts, model)
    assert rate is not None
    assert shown == metrics.kpis(facts, model).display() | rate.display()
    assert shown["Estimated savings"].startswith("EUR ") and shown["Savings per year"][:4] == "EUR "
    assert {m.label: m.help for m in app.metric if m.help} == metrics.kpi_help(model)
    tables = [list(frame.value.columns) for frame in app.dataframe]
    assert tables and not [c for t in tables for c in t if "_" in c or "bytes" in c.lower()]
    money = [c for t in tables for c in t if "savings" in c.lower()]
    assert money and all(c.endswith("(EUR)") for c in money)

    price = app.slider(key="price")
    assert price.label == "Storage price, EUR per GB-month"
    app = price.set_value(0.01).run()
    helps = {m.label: m.help for m in app.metric if m.help}
    assert "EUR 0.01 per GB-month for 10 years (what-if input" in helps["Estimated savings"]
