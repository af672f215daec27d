"""End-to-end: `dedup index` matches, `dedup duplicates` lists, per duplicate kind."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pytest

from tests.conftest import dedup_cli, index_json

KINDS = ("exact", "same-content", "partial", "near", "repeat")
COLUMNS = ["study_uid", "duplicate_of_study_uid", "kind", "score", "bytes_reclaimable",
           "detected_at", "arrival_run"]


def duplicates(archive: Path, *args: str) -> list[dict[str, object]]:
    proc = dedup_cli("duplicates", "--archive", str(archive), "--format", "json", *args)
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def matched(corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    """The corpus indexed archive first, then incoming (matching runs inside `dedup index`)."""
    archive = tmp_path_factory.mktemp("match") / "a.duckdb"
    for folder in (corpus.archive_dir, corpus.incoming_dir):
        index_json(str(folder), "--archive", str(archive), "--workers", "2")
    return archive


@pytest.mark.parametrize("kind", KINDS)
def test_each_injected_kind_is_found_with_its_original(corpus, matched: Path, kind: str) -> None:  # type: ignore[no-untyped-def]
    rows = duplicates(matched, "--kind", kind)
    found = {(r["study_uid"], r["duplicate_of_study_uid"]) for r in rows}
    labels = [label for label in corpus.labels if label.kind == kind]
    assert labels
    for label in labels:
        assert (label.study_uid, label.duplicate_of) in found, label.note
    assert all(r["kind"] == kind for r in rows)
    assert len(found) == len(labels), "no extra rows of this kind"
    if kind != "repeat":
        assert all(r["bytes_reclaimable"] > 0 for r in rows)


def test_negatives_are_never_flagged(corpus, matched: Path) -> None:  # type: ignore[no-untyped-def]
    rows = duplicates(matched)
    flagged = {r["study_uid"] for r in rows} | {r["duplicate_of_study_uid"] for r in rows}
    negatives = {label.study_uid for label in corpus.labels if label.kind == "negative"}
    assert not negatives & flagged


def test_csv_has_the_stable_columns_and_since_filters(matched: Path) -> None:
    proc = dedup_cli("duplicates", "--archive", str(matched), "--format", "csv")
    reader = csv.DictReader(io.StringIO(proc.stdout))
    assert reader.fieldnames == COLUMNS
    assert len(list(reader)) >= len(KINDS)
    assert duplicates(matched, "--since", "2999-01-01") == []
    bad = dedup_cli("duplicates", "--archive", str(matched), "--kind", "twin", check=False)
    assert bad.returncode == 2 and "not a duplicate kind" in bad.stderr


def test_rerunning_match_changes_nothing(matched: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(matched.read_bytes())
    before = duplicates(copy)
    proc = dedup_cli("match", "--archive", str(copy), "--format", "json")
    summary = json.loads(proc.stdout)
    assert summary["studies"] == 0 and summary["duplicates"] == {}
    assert duplicates(copy) == before


def pairs(archive: Path) -> set[tuple[frozenset[str], str]]:
    with duckdb.connect(str(archive), read_only=True) as con:
        rows = con.execute("SELECT study_uid, duplicate_of_study_uid, kind FROM duplicates "
                           "WHERE kind <> 'exact'").fetchall()
    return {(frozenset((a, b)), kind) for a, b, kind in rows}


def test_indexing_in_the_other_order_finds_the_same_pairs(corpus, matched: Path,  # type: ignore[no-untyped-def]
                                                         tmp_path: Path) -> None:
    archive = tmp_path / "reversed.duckdb"
    for folder in (corpus.incoming_dir, corpus.archive_dir):
        index_json(str(folder), "--archive", str(archive), "--workers", "2")
    assert pairs(archive) == pairs(matched)


@pytest.mark.parametrize("command", ["index", "match", "check", "nightly", "demo"])
def test_commands_that_report_one_result_offer_no_csv(command: str) -> None:
    from typer.testing import CliRunner

    from dedup.cli.main import app

    runner = CliRunner()
    assert "<table|json>" in " ".join(runner.invoke(app, [command, "--help"]).output.split())
    refused = runner.invoke(app, [command, "--format", "csv"])
    assert refused.exit_code == 2 and "csv" in refused.output


@pytest.mark.parametrize("command", ["match", "duplicates", "quarantine"])
def test_a_mistyped_archive_is_an_error_and_no_archive_is_made(tmp_path: Path,
                                                               command: str) -> None:
    typo = tmp_path / "archve.duckdb"
    proc = dedup_cli(command, "--archive", str(typo), check=False)
    assert proc.returncode == 3 and str(typo) in proc.stderr and "dedup index" in proc.stderr
    assert list(tmp_path.iterdir()) == []
