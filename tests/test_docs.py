"""The README and docs/ document every setting and exit code as the code declares them, and
every link they make leads somewhere."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from dedup.config import settings_table
from dedup.errors import exit_code_table
from tests.conftest import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize(("name", "table", "module", "page"), [
    ("settings", settings_table, "dedup.config", "docs/configuration.md"),
    ("exit-codes", exit_code_table, "dedup.errors", "README.md"),
])
def test_tables_are_generated_from_the_code(name: str, table: object, module: str,
                                            page: str) -> None:
    text = (REPO / page).read_text()
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    assert begin in text and end in text, f"{page} lacks the {name} markers"
    assert callable(table)
    written = text.split(begin, 1)[1].split(end, 1)[0].strip()
    assert written == table(), (
        f"{page} {name} table is stale; regenerate it with `python -c 'from {module} import "
        f"{table.__name__}; print({table.__name__}())'`")


def test_readme_names_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert (REPO / ".ci" / "run").read_text().strip().endswith("make test")


def test_readme_keeps_its_required_sections_short() -> None:
    readme = (REPO / "README.md").read_text()
    headings = re.findall(r"(?m)^## (.+)$", readme)
    assert headings[0] == "Quick start"
    for needed in ("What counts as a duplicate", "Limits", "Architecture", "Matching accuracy",
                   "Performance", "Sources", "Exit codes"):
        assert needed in headings
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert len(quick.strip().splitlines()) <= 22
    for command in ("dedup index", "dedup duplicates", "dedup check", "dedup dashboard"):
        assert command in quick
    assert len(readme.splitlines()) < 300


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(h) for h in re.findall(r"(?m)^#+ (.+)$", page.read_text())}


@pytest.mark.parametrize("page", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_exists(page: Path) -> None:
    broken = []
    text = re.sub(r"(?s)```.*?```", "", page.read_text())  # links in code are not links
    for target in _LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        missing_anchor = resolved.suffix == ".md" and anchor and resolved.exists() and \
            anchor not in _anchors(resolved)
        if not resolved.exists() or missing_anchor:
            broken.append(target)
    assert not broken, f"{page.name} links to what does not exist: {broken}"


def readme_demo_check() -> list[str]:
    """The README's example check against the demo archive, as arguments after `dedup`."""
    readme = (REPO / "README.md").read_text().replace("\\\n", " ")
    line = next(line for line in readme.splitlines()
                if "dedup check" in line and "demo/archive.duckdb" in line)
    words = shlex.split(line.split("#", 1)[0], posix=True)
    return words[words.index("check"):]
