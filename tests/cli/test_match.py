"""``dedup duplicates`` as a table a person reads; ``--format json`` keeps every value."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from dedup.cli.main import app
from dedup.cli.tables import human_bytes, masked_name, short_uid


def _run(*args: str, columns: int = 100) -> str:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.output


def test_the_table_is_short_masked_human_and_totalled(demo_archive: Path) -> None:
    rows = json.loads(_run("duplicates", "-a", str(demo_archive), "--format", "json"))
    with duckdb.connect(str(demo_archive), read_only=True) as con:
        names = {n for (n,) in con.execute("SELECT name FROM patients").fetchall() if n}
    table = _run("duplicates", "-a", str(demo_archive))
    assert rows and max(map(len, table.splitlines())) <= 100, table
    assert all(row["study_uid"] not in table for row in rows)  # short keys only
    assert all(short_uid(row["study_uid"]) in table for row in rows)
    assert not [n for n in names if n in table] and not [
        n for n in names for part in n.split("^")[:1] if len(part) > 2 and part in table]
    kinds = {row["kind"] for row in rows}
    total = next(line for line in table.splitlines() if line.startswith("total: "))
    assert total.startswith(f"total: {len(rows)} duplicates (") and all(k in total for k in kinds)
    assert human_bytes(sum(row["bytes_reclaimable"] for row in rows)) in total
    full = _run("duplicates", "-a", str(demo_archive), "--full-uids", columns=300)
    assert all(row["study_uid"] in full for row in rows)


def test_an_empty_result_says_no_duplicates(demo_archive: Path) -> None:
    out = _run("duplicates", "-a", str(demo_archive), "--since", "2999-01-01")
    assert out.strip() == "no duplicates match these filters"
    assert _run("duplicates", "-a", str(demo_archive), "--since", "2999-01-01", "-f",
                "json").strip() == "[]"


def test_cells_people_read() -> None:
    assert short_uid("1.2.826.0.1.3680043.8.498.123456789012") == "…3456789012"
    assert short_uid("1.2.3.4") == "1.2.3.4" and short_uid("1.2.826.0.1.36800", full=True)
    assert [human_bytes(n) for n in (0, 999, 1000, 1_234_567, 5e12, 7e15)] == [
        "0 B", "999 B", "1.0 kB", "1.2 MB", "5.0 TB", "7000.0 TB"]
    assert masked_name("MUELLER^HANS^J") == "M. H." and masked_name("") == "-"
    assert masked_name("Müller") == "M."
