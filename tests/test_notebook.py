"""notebooks/analyst.ipynb runs top to bottom against a generated archive."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO


def test_analyst_notebook_runs(demo_archive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = nbformat.read(REPO / "notebooks" / "analyst.ipynb", as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        "commit the notebook without outputs (generated data only, nothing to leak)"
    monkeypatch.setenv("DEDUP_ARCHIVE", str(demo_archive))
    for name in [k for k in os.environ if k.startswith("DEDUP_") and k != "DEDUP_ARCHIVE"]:
        monkeypatch.delenv(name)
    client = NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO)}})
    client.execute()
    outputs = "".join(str(out) for cell in notebook.cells for out in cell.get("outputs", []))
    assert "Avoided repeats" in outputs and "median_days" in outputs
