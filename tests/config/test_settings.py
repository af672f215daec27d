"""Settings: declared once, validated together, overridden strictly from the environment."""

from __future__ import annotations

import os
from dataclasses import fields

import pytest

from dedup.config import SETTINGS, Settings, settings_table
from dedup.errors import UsageError


def test_the_defaults_are_valid_and_every_setting_is_documented() -> None:
    settings = Settings()
    assert [name for name, _, _ in SETTINGS] == [f.name for f in fields(Settings)]
    for name, default, help_text in SETTINGS:
        assert getattr(settings, name) == default
        assert help_text.endswith("."), name


def test_the_settings_table_has_one_row_per_setting_with_its_variable() -> None:
    rows = settings_table().splitlines()
    assert len(rows) == 2 + len(SETTINGS)
    assert rows[2].startswith("| `archive` | `DEDUP_ARCHIVE` | `archive.duckdb` |")
    assert any(row.startswith("| `lsh_bands` | `DEDUP_LSH_BANDS` | `32` |") for row in rows)


def test_every_problem_is_reported_together() -> None:
    with pytest.raises(UsageError) as info:
        Settings(num_perm=100, workers=-1, batch_files=0, link_prior=0.0,
                 match_near_min_noise=1.5, check_max_body_bytes=10)
    message = str(info.value)
    for text in ("num_perm=100 is not divisible by lsh_bands=32", "workers=-1 must be >= 0",
                 "batch_files=0 must be >= 1", "link_prior=0.0 must be in (0, 1]",
                 "match_near_min_noise=1.5 must be in (0, 1]",
                 "check_max_body_bytes >= 1024"):
        assert text in message


def test_worker_count() -> None:
    assert Settings(workers=3).worker_count == 3
    assert Settings(workers=0).worker_count == (os.cpu_count() or 1)


def test_environment_overrides_are_typed() -> None:
    base = Settings(archive="a.duckdb", workers=2)
    env = {"DEDUP_WORKERS": "4", "DEDUP_LINK_PRIOR": "1e-4", "DEDUP_PUBLISH": "no",
           "DEDUP_DASHBOARD_DRILLDOWN": "TRUE", "DEDUP_EXAM_COSTS": "costs.csv",
           "DEDUP_UNKNOWN": "ignored", "WORKERS": "9"}
    settings = base.with_env(env)
    assert (settings.workers, settings.link_prior) == (4, 1e-4)
    assert not settings.publish and settings.dashboard_drilldown
    assert (settings.archive, settings.exam_costs) == ("a.duckdb", "costs.csv")
    assert base.workers == 2 and base.with_env({}) == base


def test_with_env_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEDUP_BATCH_FILES", "77")
    assert Settings().with_env().batch_files == 77


def test_a_misspelt_boolean_is_refused_not_read_as_false() -> None:
    """The one change of behaviour in issue 9: "flase" used to be silently False."""
    with pytest.raises(UsageError) as info:
        Settings().with_env({"DEDUP_FAIL_ON_QUARANTINE": "flase"})
    message = str(info.value)
    assert "DEDUP_FAIL_ON_QUARANTINE='flase' is not a valid bool" in message
    assert "1, true, yes, 0, false, no" in message


def test_every_bad_variable_is_named() -> None:
    with pytest.raises(UsageError) as info:
        Settings().with_env({"DEDUP_WORKERS": "four", "DEDUP_STRICT_SOURCES": "maybe",
                             "DEDUP_NUM_PERM": "64"})
    message = str(info.value)
    assert "DEDUP_WORKERS='four' is not a valid int" in message
    assert "DEDUP_STRICT_SOURCES='maybe' is not a valid bool" in message


def test_overridden_settings_are_validated() -> None:
    with pytest.raises(UsageError, match="num_perm=128 is not divisible by lsh_bands=30"):
        Settings().with_env({"DEDUP_LSH_BANDS": "30"})
