"""``dedup demo``: the README's example check finds a prior in it, as the README says."""

from __future__ import annotations

import json
import shlex
from datetime import date, timedelta
from pathlib import Path

import duckdb

from dedup.cli.demo import EXAMPLE_CHECK
from dedup.errors import ExitCode
from tests.conftest import dedup_cli
from tests.test_docs import readme_demo_check


def test_the_readme_example_check_finds_a_prior_in_the_demo(tmp_path: Path) -> None:
    made = dedup_cli("demo", "--out", str(tmp_path / "demo"), "--ct-slices", "2",
                     "--workers", "2")  # the demo's people and dates, fewer CT slices
    archive = tmp_path / "demo" / "archive.duckdb"
    assert f"dedup check --archive {archive} {shlex.join(EXAMPLE_CHECK)}" in made.stdout
    with duckdb.connect(str(archive), read_only=True) as con:
        dates = [d for (d,) in con.execute("SELECT study_date FROM studies").fetchall()]
    today = date.today()
    assert max(dates) <= today  # nothing in the future
    assert len([d for d in dates if d >= today - timedelta(days=90)]) >= 5
    example = readme_demo_check()
    assert example[example.index("--archive") + 1] == "demo/archive.duckdb"
    example[example.index("--archive") + 1] = str(archive)
    assert tuple(example[3:]) == EXAMPLE_CHECK
    table = dedup_cli(*example, check=False)
    assert table.returncode == ExitCode.PRIORS_FOUND, table.stdout + table.stderr
    assert "Possible repeat: a CT HEAD was done 23 days ago" in table.stdout
    answer = json.loads(dedup_cli(*example, "--format", "json", check=False).stdout)
    assert answer["answer"] == "yes" and [p["days_ago"] for p in answer["priors"]] == [23]
