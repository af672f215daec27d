"""``dedup check`` and ``dedup serve`` as a script sees them (exit codes, output)."""

from __future__ import annotations

import json
from pathlib import Path

from dedup.errors import ExitCode
from tests.check.archive import BORN, LOCATION, ORDER_DATE, PRIORS_OF_HANS


def test_cli_exit_codes_let_scripts_branch(archive: Path) -> None:
    from tests.conftest import dedup_cli

    base = ["check", "--archive", str(archive), "--name", "MUELLER^HANS", "--birth-date",
            BORN.isoformat(), "--sex", "M", "--date", ORDER_DATE.isoformat()]
    found = dedup_cli(*base, "--procedure", "CT HEAD", "--format", "json", check=False)
    assert found.returncode == ExitCode.PRIORS_FOUND == 5, found.stderr
    assert [p["study_uid"] for p in json.loads(found.stdout)["priors"]] == PRIORS_OF_HANS
    table = dedup_cli(*base, "--modality", "CT", "--body-part", "head", check=False)
    assert table.returncode == ExitCode.PRIORS_FOUND, table.stderr
    assert "1.2.3.4" in table.stdout and "Possible repeat" in table.stdout
    assert max(map(len, table.stdout.splitlines())) <= 100, table.stdout
    assert LOCATION not in table.stdout  # a path on the indexing host means nothing here
    none = dedup_cli(*base, "--procedure", "MR KNEE", check=False)
    assert none.returncode == 0 and none.stdout.startswith("No MR KNEE")
    hand = dedup_cli(*base, "--modality", "CR", "--body-part", "HAND", "--description",
                     "XR Hand left 3 views", check=False)
    assert hand.returncode == 0 and hand.stdout.startswith("No XR HAND (left) in the last 90")
    assert "Procedure: XR HAND: no curated family; modality class XR and the DICOM body " \
           "region HAND" in hand.stdout
    bad = dedup_cli(*base[:-2], "--date", "someday", "--procedure", "BANANA", check=False)
    assert bad.returncode == 2 and "--date" in bad.stderr and "BANANA" in bad.stderr
    assert "order_date" not in bad.stderr  # the flag the user typed, not the field's name
    no_tokens = dedup_cli("serve", "--archive", str(archive), check=False,
                          env={"DEDUP_SERVICE_TOKENS": "", "DEDUP_TOKENS": ""})
    assert no_tokens.returncode == 2 and "no API tokens" in no_tokens.stderr


def test_an_archive_never_published_exits_as_in_every_command(tmp_path: Path) -> None:
    from tests.conftest import dedup_cli

    proc = dedup_cli("check", "--archive", str(tmp_path / "none.duckdb"), "--name", "DOE^JO",
                     "--birth-date", "1970-01-01", "--sex", "F", "--procedure", "CT HEAD",
                     check=False)
    assert proc.returncode == ExitCode.ARCHIVE and "dedup index" in proc.stderr


def test_the_check_table_links_each_prior_to_the_viewer_within_100_columns(
        archive: Path) -> None:
    from tests.conftest import dedup_cli

    viewer = "https://pacs.example.org/ohif/viewer?StudyInstanceUIDs={study_uid}"
    table = dedup_cli("check", "--archive", str(archive), "--name", "MUELLER^HANS",
                      "--birth-date", BORN.isoformat(), "--sex", "M", "--date",
                      ORDER_DATE.isoformat(), "--procedure", "CT HEAD", check=False,
                      env={"DEDUP_VIEWER_URL": viewer})
    assert table.returncode == ExitCode.PRIORS_FOUND, table.stderr
    lines = table.stdout.splitlines()
    assert "viewer" in table.stdout and max(map(len, lines)) <= 100, table.stdout
    for n, uid in enumerate(PRIORS_OF_HANS, 1):
        assert f"  [{n}] {viewer.format(study_uid=uid)}" in lines, table.stdout
