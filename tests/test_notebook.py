"""notebooks/analyst.ipynb: committed with its outputs, and runs from any working directory."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO

NOTEBOOK = REPO / "notebooks" / "analyst.ipynb"


def _outputs(notebook: nbformat.NotebookNode) -> str:
    return "".join(str(out) for cell in notebook.cells for out in cell.get("outputs", []))


def test_the_story_is_committed_with_its_outputs_and_no_identifiers() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    text = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    assert text[0].startswith("# ") and "**The question.**" in text[0]
    assert any(t.startswith("## Conclusion") for t in text)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.get("outputs") for cell in code[:-1]), "run it and commit the outputs"
    outputs = _outputs(notebook)
    assert "image/png" in outputs  # the chart, visible without running anything
    assert "^" not in outputs  # no DICOM person name (the demo's are generated anyway)
    assert "/tmp/" not in outputs and str(Path.home()) + "/" not in outputs  # no local path


def test_analyst_notebook_runs_from_any_working_directory(
        demo_archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "notebooks" / "deeper").mkdir(parents=True)
    (checkout / "demo").symlink_to(demo_archive.parent)  # as `make demo` leaves it
    for name in [k for k in os.environ if k.startswith("DEDUP_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # importing streamlit sets it to Agg
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, timeout=180, kernel_name="python3", resources={
        "metadata": {"path": str(checkout / "notebooks" / "deeper")}})
    client.execute()
    outputs = _outputs(notebook)
    assert "Avoided repeats" in outputs and "median_days" in outputs
    assert "image/png" in outputs and "repeat scans:" in outputs
