"""The ``runs`` table: runs opened and closed with their status, and the signature settings."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dedup.archive.db import Archive
from dedup.batch.runs import RunTotals, check_signature_settings, recorded_run, start_run
from dedup.config import Settings
from dedup.errors import UsageError


def _runs(archive: Archive) -> list[tuple[int, str, str]]:
    return list(archive.query("SELECT run_id, command, status FROM runs ORDER BY run_id"
                              ).iter_rows())


def test_a_run_is_closed_with_how_it_ended(settings: Settings) -> None:
    with Archive.open(settings.archive) as archive:
        totals = RunTotals()
        with recorded_run(archive, "index", totals) as first:
            assert _runs(archive) == [(first, "index", "running")]
            totals.studies |= {"1.2.3", "1.2.4"}
        with pytest.raises(RuntimeError), recorded_run(archive, "index", RunTotals()):
            raise RuntimeError("a bug")
        with pytest.raises(KeyboardInterrupt), recorded_run(archive, "nightly", RunTotals()):
            raise KeyboardInterrupt
        assert [status for *_, status in _runs(archive)] == ["ok", "failed", "interrupted"]
        assert archive.query("SELECT studies, ended_at IS NOT NULL AS ended FROM runs "
                             "WHERE run_id = ?", [first]).row(0) == (2, True)


def test_a_run_a_crash_left_running_is_marked_interrupted(settings: Settings) -> None:
    with Archive.open(settings.archive) as archive:
        crashed = start_run(archive, "index")  # never finished, as after kill -9
        later = start_run(archive, "index")
        assert _runs(archive) == [(crashed, "index", "interrupted"), (later, "index", "running")]


def test_signature_settings_are_stored_once_and_then_enforced(settings: Settings) -> None:
    with Archive.open(settings.archive) as archive:
        check_signature_settings(archive, settings)
        check_signature_settings(archive, settings)
        stored = dict(archive.query("SELECT name, value FROM settings").iter_rows())
        assert stored == {"num_perm": str(settings.num_perm),
                          "lsh_bands": str(settings.lsh_bands)}
        other = replace(settings, lsh_bands=settings.lsh_bands // 2)
        with pytest.raises(UsageError, match=f"built with lsh_bands={settings.lsh_bands}"):
            check_signature_settings(archive, other)
