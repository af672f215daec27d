"""The README documents every setting and exit code exactly as the code declares them."""

from __future__ import annotations

import pytest

from dedup.config import settings_table
from dedup.errors import exit_code_table
from tests.conftest import REPO


@pytest.mark.parametrize(("name", "table", "module"), [
    ("settings", settings_table, "dedup.config"), ("exit-codes", exit_code_table, "dedup.errors"),
])
def test_readme_tables_are_generated_from_the_code(name: str, table: object,
                                                    module: str) -> None:
    readme = (REPO / "README.md").read_text()
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    assert begin in readme and end in readme, f"README lacks the {name} markers"
    assert callable(table)
    written = readme.split(begin, 1)[1].split(end, 1)[0].strip()
    assert written == table(), (
        f"README {name} table is stale; regenerate it with `python -c 'from {module} import "
        f"{table.__name__}; print({table.__name__}())'`")


def test_readme_names_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert (REPO / ".ci" / "run").read_text().strip().endswith("make test")
