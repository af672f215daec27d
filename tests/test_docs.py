"""The README documents every setting exactly as dedup.config declares it."""

from __future__ import annotations

from dedup.config import settings_table
from tests.conftest import REPO

BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def test_readme_settings_table_is_generated_from_settings() -> None:
    readme = (REPO / "README.md").read_text()
    table = readme.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert table == settings_table(), (
        "README settings table is stale; regenerate it with "
        "`python -c 'from dedup.config import settings_table; print(settings_table())'`")


def test_readme_names_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert (REPO / ".ci" / "run").read_text().strip().endswith("make test")
