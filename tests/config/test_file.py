"""The TOML configuration file: parsing, environment overrides, all problems at once."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from dedup.config import (
    PATH_SETTINGS,
    OrthancSource,
    PathSource,
    ServiceSection,
    Settings,
    describe,
    load_config,
)
from dedup.errors import UsageError
from tests.conftest import REPO, dedup_cli

GOOD = """
archive = "var/archive.duckdb"
workers = 2
batch_files = 500
fail_on_quarantine = true
procedure_families = "tables/families.csv"

[[sources]]
name = "incoming"
type = "folder"
path = "incoming"

[[sources]]
name = "pacs"
type = "orthanc"
url = "http://127.0.0.1:8042/"
username = "dedup"
password_env = "PACS_PW"
timeout = 5
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dedup.toml"
    path.write_text(text)
    return path


def test_good_file(tmp_path: Path) -> None:
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "families.csv").write_text("family\n")
    config = load_config(write(tmp_path, GOOD), {"PACS_PW": "pw"})
    assert config.settings.archive == str(tmp_path / "var" / "archive.duckdb")
    assert (config.settings.workers, config.settings.batch_files) == (2, 500)
    assert config.settings.fail_on_quarantine and config.settings.strict_sources
    folder, pacs = config.sources
    assert folder == PathSource("incoming", "folder", str(tmp_path / "incoming"))
    assert isinstance(pacs, OrthancSource) and pacs.timeout == 5.0
    assert pacs.password({"PACS_PW": "pw"}) == "pw"
    assert config.settings.procedure_families == str(tmp_path / "tables" / "families.csv")
    assert "pw" not in repr(config)


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "families.csv").write_text("")
    env = {"PACS_PW": "pw", "DEDUP_WORKERS": "3", "DEDUP_FAIL_ON_QUARANTINE": "false",
           "DEDUP_SOURCE_PACS_TIMEOUT": "7.5", "DEDUP_SOURCE_PACS_URL": "http://pacs:8042",
           "DEDUP_SERVICE_TOKENS": "a" * 20 + ", " + "b" * 20}
    config = load_config(write(tmp_path, GOOD), env)
    assert config.settings.workers == 3 and not config.settings.fail_on_quarantine
    pacs = config.sources[1]
    assert isinstance(pacs, OrthancSource)
    assert (pacs.timeout, pacs.url) == (7.5, "http://pacs:8042")
    assert config.tokens == ("a" * 20, "b" * 20)


def test_every_problem_is_reported_together(tmp_path: Path) -> None:
    bad = """
archive = 5
lookback_windows = "nope.csv"
wokers = 2
num_perm = 100
strict_sources = "maybe"

[[sources]]
name = "pacs"
type = "orthanc"
url = "ftp://pacs"
username = "dedup"
retries = 0

[[sources]]
name = "pacs"
type = "folder"

[[sources]]
name = "x"
type = "sftp"

[service]
tokens_file = "missing-tokens.txt"
"""
    with pytest.raises(UsageError) as info:
        load_config(write(tmp_path, bad), {})
    message = str(info.value)
    expected = ["archive=5 must be a string", "unknown top-level key 'wokers'; did you mean "
                "'workers'?", "strict_sources='maybe' must be true or false",
                "num_perm=100 is not divisible by lsh_bands=32",
                "url='ftp://pacs' must be http(s)://", "username is set but password_env is not",
                "retries=0 must be >= 1", "name 'pacs' is used by another source",
                "path is required for a folder source", "type='sftp' is not one of",
                "tokens_file='missing-tokens.txt' cannot be read",
                "nope.csv' is not a file"]
    for text in expected:
        assert text in message
    assert message.count("\n  - ") == len(expected)
    assert "has 12 problems" in message


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"not valid TOML: .*line 2"):
        load_config(write(tmp_path, "archive = 'a'\nworkers = = 2\n"), {})


def test_missing_file_and_missing_password(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist; pass --config FILE"):
        load_config(tmp_path / "absent.toml", {})
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "families.csv").write_text("")
    with pytest.raises(UsageError, match="password_env names 'PACS_PW', which is not set"):
        load_config(write(tmp_path, GOOD), {})


def test_short_tokens_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[[sources]]\nname = "a"\ntype = "folder"\npath = "."\n')
    with pytest.raises(UsageError, match="1 API token"):
        load_config(path, {"DEDUP_SERVICE_TOKENS": "short"})


def test_every_key_is_declared_once_and_documented() -> None:
    doc = (REPO / "docs" / "configuration.md").read_text()
    tables = describe()
    assert [name for name, _, _ in tables["top level"]] == [f.name for f in fields(Settings)]
    for cls in (PathSource, OrthancSource, ServiceSection):
        for f in fields(cls):
            assert f.metadata["help"], f"{cls.__name__}.{f.name} has no help"
            assert f"`{f.name}`" in doc, f"{cls.__name__}.{f.name} missing from the docs"
    for name in ("fail_on_quarantine", "strict_sources"):
        assert f"`{name}`" in doc


def test_every_text_setting_names_a_file() -> None:
    text = {f.name for f in fields(Settings) if isinstance(f.default, str)}
    assert text == PATH_SETTINGS


def test_example_config_is_valid() -> None:
    config = load_config(REPO / "deploy" / "dedup.toml", {"DEDUP_PACS_PASSWORD": "x"})
    assert {s.type for s in config.sources} >= {"folder", "orthanc"}


def test_cli_reports_config_errors_with_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, "workers = -1\nbogus = 1\n")
    proc = dedup_cli("nightly", "--config", str(path), check=False)
    assert proc.returncode == 2
    assert "has 3 problems" in proc.stderr and "workers=-1 must be >= 0" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_environment_overrides_name_their_variables(tmp_path: Path) -> None:
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "families.csv").write_text("")
    env = {"PACS_PW": "pw", "DEDUP_FAIL_ON_QUARANTINE": "flase",
           "DEDUP_SOURCE_PACS_TIMEOUT": "slow", "DEDUP_SOURCE_PACS_RETRIES": "2"}
    with pytest.raises(UsageError) as info:
        load_config(write(tmp_path, GOOD), env)
    message = str(info.value)
    assert "has 2 problems" in message
    assert "DEDUP_FAIL_ON_QUARANTINE='flase' is not a valid bool" in message
    assert "DEDUP_SOURCE_PACS_TIMEOUT='slow' is not a valid float" in message


def test_a_quoted_value_is_read_as_the_environment_reads_it(tmp_path: Path) -> None:
    path = write(tmp_path, 'workers = "3"\npublish = "no"\n[[sources]]\nname = "a"\n'
                           'type = "folder"\npath = "."\n')
    settings = load_config(path, {}).settings
    assert settings.workers == 3 and not settings.publish
