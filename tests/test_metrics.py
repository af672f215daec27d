"""dedup.metrics and dedup.metrics.costs on hand-built archives with known answers."""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from dedup import metrics
from dedup.archive.db import Archive
from dedup.archive.publish import publish, published_path
from dedup.config import Settings
from dedup.errors import UsageError
from dedup.metrics.costs import WHAT_IF_SOURCE, load_cost_model, parse_table
from dedup.synth.checks import record_demo_checks

REPO = Path(__file__).resolve().parent.parent
D = date
STUDIES = [  # key, uid, patient, date, institution, family, bytes
    (1, "1.2.1", 1, D(2024, 1, 10), "North", "CT HEAD", 1000),
    (2, "1.2.2", 1, D(2024, 2, 1), "North", "CT HEAD", 1000),   # repeat of 1 (and of 3)
    (3, "1.2.3", 1, D(2024, 1, 20), "South", "CT HEAD", 1000),
    (4, "1.2.4", 2, D(2024, 3, 5), "South", "XR CHEST", 400),
    (5, "1.2.5", 2, D(2024, 3, 5), "South", "XR CHEST", 400),   # same-content of 4, partial of 6
    (6, "1.2.6", 2, D(2024, 3, 1), "South", "XR CHEST", 500),
]
DUPLICATES = [  # study, duplicate_of, kind, bytes_reclaimable
    (2, 1, "repeat", 0), (2, 3, "repeat", 0),          # one repeat study, two priors
    (5, 4, "same-content", 400), (5, 6, "partial", 0),  # one duplicate study, two pairs
    (4, 4, "exact", 150),                               # re-sent copies of study 4
]
CHECKS = [  # id, order date, institution, family, [(decided, outcome)]
    ("c1", D(2024, 2, 15), "North", "CT HEAD", [(1, "withdrawn")]),
    ("c2", D(2024, 3, 20), "South", "XR CHEST", [(1, "withdrawn")]),
    ("c3", D(2024, 2, 1), "North", "CT HEAD", [(1, "ordered-anyway")]),
    ("c4", D(2024, 4, 2), "South", "CT HEAD", [(1, "withdrawn"), (2, "ordered-anyway")]),
    ("c5", D(2024, 4, 3), "North", "MR BRAIN", []),
    ("c6", D(2024, 5, 1), "South", "MR KNEE", [(1, "withdrawn")]),  # no cost row in the test
]


def _write(path: Path, header: list[str], rows: list[list[object]]) -> str:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


@pytest.fixture
def model_settings(tmp_path: Path) -> Settings:
    """Reference tables with round numbers: CT HEAD $100 / 2 mSv, XR CHEST $10 / 0.1 mSv."""
    notes = ["src", "2026"]
    exam = _write(tmp_path / "exam.csv", ["family", "cpt", "cost_usd", "basis", "source",
                                          "retrieved"],
                  [["CT HEAD", "70450", 100, "b", *notes], ["xr chest", "71046", 10, "b", *notes]])
    dose = _write(tmp_path / "dose.csv", ["family", "msv", "basis", "source", "retrieved"],
                  [["CT HEAD", 2, "b", *notes], ["XR CHEST", 0.1, "b", *notes]])
    storage = _write(tmp_path / "storage.csv", ["item", "value", "unit", "source", "retrieved"],
                     [["price_per_gb_month", 1, "USD", *notes], ["retention_years", 1, "y", *notes],
                      ["bytes_per_gb", 100, "bytes", *notes]])
    return Settings(exam_costs=exam, effective_doses=dose, storage_costs=storage)


def _insert_all(archive: Archive) -> None:
    for key, uid, patient, day, institution, family, size in STUDIES:
        archive.execute("INSERT INTO studies (study_key, study_uid, patient_key, study_date, "
                        "institution, modalities, n_series, n_instances, bytes, first_run, "
                        "last_run) VALUES (?, ?, ?, ?, ?, ?, 1, 1, ?, 1, 1)",
                        [key, uid, patient, day, institution, family.split()[0], size])
        archive.execute("INSERT INTO study_procedures VALUES (?, ?, true, 'test', 'x')",
                        [key, family])
    for patient in (1, 2):
        archive.execute("INSERT INTO patients (patient_key, issuer, patient_id) VALUES "
                        "(?, 'X', ?)", [patient, f"MRN00{patient}4567"])
    uid = dict((s[0], s[1]) for s in STUDIES)
    for study, prior, kind, size in DUPLICATES:
        archive.execute("INSERT INTO duplicates VALUES (?, ?, ?, 1.0, ?, ?, ?, ?, ?, 1, '{}')",
                        [uid[study], uid[prior], kind, size, datetime(2026, 1, 1), study, prior,
                         study])
    for check_id, day, institution, family, decisions in CHECKS:
        archive.execute("INSERT INTO checks VALUES (?, ?, 'test', 'http', 'p', ?, ?, ?, 90, ?, "
                        "1, '[]', 'prior-found', 1.0)",
                        [check_id, datetime(2024, 1, 1), family, family.split()[0], day,
                         institution])
        for minute, outcome in decisions:
            archive.execute("INSERT INTO outcomes VALUES (?, ?, ?, NULL, 'test', 'http')",
                            [check_id, datetime(2024, 1, 1, 0, minute), outcome])
    archive.execute("INSERT INTO runs (run_id, command, started_at, ended_at, status, "
                    "version, instances) VALUES (1, 'index', ?, ?, 'ok', 'test', 6)",
                    [datetime(2026, 1, 1), datetime(2026, 1, 1, 0, 5)])


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A published archive holding exactly the rows above."""
    path = tmp_path / "archive.duckdb"
    with Archive.open(path) as archive:
        _insert_all(archive)
        publish(archive)
    return path


def _facts(path: Path, filters: metrics.Filters | None = None) -> metrics.Facts:
    with metrics.published(path) as archive:
        return metrics.facts(archive, filters)


def test_kpis_have_the_known_answers(built: Path, model_settings: Settings) -> None:
    kpis = metrics.kpis(_facts(built), load_cost_model(model_settings))
    # avoided: c1, c2, c6 (c4's latest decision is ordered-anyway; c5 is pending)
    assert (kpis.avoided_repeats, kpis.ordered_anyway, kpis.unvalued_avoided) == (3, 2, 1)
    assert kpis.repeats == 1  # study 2 repeats two priors: one repeat
    assert kpis.duplicate_studies == 2 and kpis.bytes_reclaimable == 400 + 150
    assert kpis.exam_savings == pytest.approx(100 + 10)  # MR KNEE has no cost row
    assert kpis.storage_savings == pytest.approx(550 / 100 * 1 * 12 * 1)
    assert kpis.estimated_savings == pytest.approx(110 + 66)
    assert kpis.dose_avoided_msv == pytest.approx(2.1)
    assert kpis.display() == {"Avoided repeats": "3", "Estimated savings": "$176",
                              "Storage reclaimable": "550 B", "Dose avoided": "2.1 mSv"}


def test_storage_is_never_counted_twice(built: Path, model_settings: Settings) -> None:
    facts, model = _facts(built), load_cost_model(model_settings)
    kinds = metrics.storage_by_kind(facts, model)
    assert kinds["kind"].to_list() == list(metrics.KINDS)
    same, partial = (kinds.filter(pl.col("kind") == k).row(0, named=True)
                     for k in ("same-content", "partial"))
    assert (same["studies"], same["pairs"], same["bytes_reclaimable"]) == (1, 1, 400)
    assert (partial["studies"], partial["pairs"], partial["bytes_reclaimable"]) == (0, 1, 0)
    kpis = metrics.kpis(facts, model)
    for by in metrics.DIMENSIONS:
        frame = metrics.breakdown(facts, model, by)
        assert frame["bytes_reclaimable"].sum() == kpis.bytes_reclaimable
        assert frame["duplicate_studies"].sum() == kpis.duplicate_studies
        assert frame["estimated_savings"].sum() == pytest.approx(kpis.estimated_savings)
    for period in metrics.PERIODS:
        frame = metrics.trend(facts, model, period)
        assert frame["avoided_repeats"].sum() == kpis.avoided_repeats
        assert frame["bytes_reclaimable"].sum() == kpis.bytes_reclaimable
    top = metrics.top_sources(facts, model)
    assert top["duplicates"].sum() == kpis.duplicate_studies + kpis.repeats


def test_filters_narrow_every_figure(built: Path, model_settings: Settings) -> None:
    model = load_cost_model(model_settings)
    south = metrics.kpis(_facts(built, metrics.Filters(institutions=("South",))), model)
    assert (south.avoided_repeats, south.repeats, south.bytes_reclaimable) == (2, 0, 550)
    march = metrics.kpis(_facts(built, metrics.Filters(D(2024, 3, 1), D(2024, 3, 31))), model)
    assert (march.avoided_repeats, march.duplicate_studies, march.repeats) == (1, 2, 0)
    first, last, institutions = metrics.filter_options(_facts(built))
    assert (first, last, institutions) == (D(2024, 2, 1), D(2024, 5, 1), ["North", "South"])


def test_edited_reference_tables_change_the_savings(built: Path, model_settings: Settings,
                                                    tmp_path: Path) -> None:
    facts = _facts(built)
    base = metrics.kpis(facts, load_cost_model(model_settings)).exam_savings
    edited = Path(model_settings.exam_costs).read_text().replace(",100,", ",250,")
    Path(model_settings.exam_costs).write_text(edited)
    assert metrics.kpis(facts, load_cost_model(model_settings)).exam_savings == base + 150
    shipped = metrics.kpis(facts, load_cost_model(Settings()))
    assert shipped.exam_savings == pytest.approx(106.55 + 34.22 + 204.41)  # shipped CMS rows


def test_what_if_changes_values_not_files(built: Path, model_settings: Settings) -> None:
    files = [Path(p).read_text() for p in (model_settings.exam_costs,
                                           model_settings.storage_costs)]
    model = load_cost_model(model_settings)
    changed = model.what_if(exam_cost_scale=2, price_per_gb_month=2, retention_years=3)
    kpis = metrics.kpis(_facts(built), changed)
    assert kpis.exam_savings == pytest.approx(220)
    assert kpis.storage_savings == pytest.approx(550 / 100 * 2 * 12 * 3)
    assert changed.exam_costs["source"].str.starts_with(WHAT_IF_SOURCE).all()
    assert model.exam_costs["source"].to_list() == ["src", "src"]
    assert files == [Path(p).read_text() for p in (model_settings.exam_costs,
                                                   model_settings.storage_costs)]
    with pytest.raises(UsageError, match="retention_years=-1"):
        model.what_if(retention_years=-1)


def test_bad_reference_tables_are_reported_together(tmp_path: Path) -> None:
    bad = _write(tmp_path / "exam.csv", ["family", "cpt", "cost_usd", "basis", "source",
                                         "retrieved"],
                 [["CT HEAD", "1", "cheap", "", "", ""], ["", "2", 3, "", "", ""]])
    no_notes = _write(tmp_path / "dose.csv", ["family", "msv"], [["CT HEAD", 2]])
    with pytest.raises(UsageError) as info:
        load_cost_model(Settings(exam_costs=bad, effective_doses=no_notes,
                                 storage_costs=str(tmp_path / "missing.csv")))
    message = str(info.value)
    for part in ("cost_usd='cheap' is not a number", "line 3: no family",
                 "lacks columns ['basis', 'source', 'retrieved']", "cannot read"):
        assert part in message
    with pytest.raises(UsageError, match="repeats an earlier row"):
        parse_table("item,value,unit,source,retrieved\nx,1,u,s,r\nx,2,u,s,r\n",
                    "storage_costs.csv")


def test_shipped_tables_cite_a_source_on_every_row() -> None:
    families = {r["family"] for r in csv.DictReader(
        (REPO / "dedup" / "data" / "procedure_families.csv").open())}
    model = load_cost_model(Settings())
    for frame in (model.exam_costs, model.doses, model.storage):
        assert frame.height and frame["source"].str.len_chars().min() > 10
        assert frame["retrieved"].str.len_chars().min() >= 4
    assert set(model.exam_costs["family"]) <= families
    assert set(model.doses["family"]) <= families
    assert model.storage_cost(model.bytes_per_gb) == pytest.approx(0.023 * 12 * 5)


def test_empty_missing_and_unpublished_archives(tmp_path: Path) -> None:
    missing = metrics.status(tmp_path / "nope.duckdb")
    assert missing.state == "missing" and "dedup index" in missing.message
    path = tmp_path / "archive.duckdb"
    Archive.open(path).close()
    unpublished = metrics.status(path)
    assert unpublished.state == "error" and "no published snapshot" in unpublished.message
    with Archive.open(path) as archive:
        publish(archive)
    empty = metrics.status(path)
    assert empty.state == "empty" and "dedup index" in empty.message
    assert "dedup demo" in empty.message


def test_locked_snapshot_is_reported(built: Path) -> None:
    target = published_path(built).resolve()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(60)", str(target)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        status = metrics.status(built)
        assert status.state == "locked" and "in use by another process" in status.message
    finally:
        holder.kill()
        holder.wait()
    deadline = time.monotonic() + 10
    while metrics.status(built).state != "ready" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert metrics.status(built).state == "ready"


def test_drilldown_masks_identifiers(built: Path) -> None:
    with metrics.published(built) as archive:
        rows = metrics.drilldown(archive)
    text = rows.write_csv()
    assert rows.height == len(DUPLICATES)
    assert "MRN0014567" not in text and "1.2.5" not in text
    assert set(rows["patient_id"]) == {"•••567"}
    assert metrics.mask_identifier("1.2.840.10008.123456") == "•••123456"
    assert metrics.mask_identifier("") == "" and metrics.mask_identifier("AB") == "•••B"


def test_runs_quarantine_and_intervals(built: Path) -> None:
    with metrics.published(built) as archive:
        runs = metrics.runs(archive)
        intervals = metrics.repeat_intervals(archive)
        assert metrics.quarantine(archive).height == 0
    assert runs.row(0, named=True)["status"] == "ok"
    assert sorted(intervals["days_apart"]) == [12, 22]


def test_demo_checks_give_avoided_repeats_and_are_idempotent(demo_archive: Path) -> None:
    facts = _facts(demo_archive)
    kpis = metrics.kpis(facts, load_cost_model(Settings()))
    assert kpis.avoided_repeats > 0 and kpis.repeats > 0 and kpis.ordered_anyway == kpis.repeats
    assert kpis.estimated_savings > 0 and kpis.bytes_reclaimable > 0
    with metrics.published(demo_archive) as archive:
        before = archive.scalar("SELECT count(*) FROM checks")
    copy = demo_archive.parent / "copy.duckdb"
    copy.write_bytes(published_path(demo_archive).resolve().read_bytes())
    with Archive.open(copy) as archive:
        assert record_demo_checks(archive) == before
        assert archive.scalar("SELECT count(*) FROM checks") == before
        assert archive.scalar("SELECT count(*) FROM checks WHERE patient_pseudonym "
                              "LIKE 'MRN%' OR client <> 'demo'") == 0
