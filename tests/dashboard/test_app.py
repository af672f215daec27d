"""The dashboard script without a browser (Streamlit's AppTest): states before any data."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dedup.archive.db import Archive
from dedup.archive.publish import publish
from tests.conftest import REPO

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
