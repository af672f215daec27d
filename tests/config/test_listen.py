"""The ``[listen]`` section: peers, defaults, every problem reported at once."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from dedup.batch.listen import listen_spool
from dedup.config.file import describe, load_config
from dedup.config.listen import ListenSection
from dedup.errors import UsageError
from tests.conftest import REPO


def _config(tmp_path: Path, listen: str) -> Path:
    path = tmp_path / "dedup.toml"
    path.write_text(f'archive = "var/archive.duckdb"\n\n[listen]\n{listen}\n')
    return path


def test_a_listen_only_configuration_needs_no_sources(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, 'allowed = "ROUTER, CT1@10.1.2.3"'), {})
    assert config.sources == ()
    assert config.listen is not None
    assert config.listen.peers() == {"ROUTER": frozenset(), "CT1": frozenset({"10.1.2.3"})}
    assert listen_spool(config) == tmp_path / "var" / "archive.listen"


def test_a_relative_spool_is_relative_to_the_file(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, 'allowed = "A"\nspool = "in/dicom"'), {})
    assert listen_spool(config) == tmp_path / "in" / "dicom"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    listen = ('ae_title = "A-TITLE-LONGER-THAN-16"\nport = 70000\nidle_seconds = 0\n'
              'allowed = "OK@not-an-ip, BAD\\\\AE"\nbogus = 1')
    with pytest.raises(UsageError) as caught:
        load_config(_config(tmp_path, listen), {})
    text = str(caught.value)
    assert "has 6 problems" in text
    for expected in ("ae_title: AE title 'A-TITLE-LONGER-THAN-16'", "port=70000",
                     "idle_seconds=0.0", "'not-an-ip' is not an IP address",
                     "allowed: AE title 'BAD\\\\AE'", "unknown [listen] key 'bogus'"):
        assert expected in text


def test_write_back_needs_an_http_url_and_its_password_in_the_environment(
        tmp_path: Path) -> None:
    keys = ('allowed = "A"\nwriteback_url = "ftp://u:p@pacs"\nwriteback_username = "dedup"\n'
            'writeback_password_env = "PACS_PW"')
    with pytest.raises(UsageError) as caught:
        load_config(_config(tmp_path, keys), {})
    assert "must be http(s)" in str(caught.value) and "'PACS_PW', which is not set" in str(
        caught.value)
    keys = keys.replace("ftp://u:p@pacs", "http://pacs:8042")
    config = load_config(_config(tmp_path, keys), {"PACS_PW": "secret"})
    assert config.listen is not None and config.listen.password({"PACS_PW": "s"}) == "s"


def test_an_empty_allow_list_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="allowed is empty"):
        load_config(_config(tmp_path, 'ae_title = "DEDUP"'), {})


def test_without_a_listen_section_sources_are_still_required(tmp_path: Path) -> None:
    path = tmp_path / "dedup.toml"
    path.write_text('archive = "a.duckdb"\n')
    with pytest.raises(UsageError, match="no sources configured"):
        load_config(path, {})


def test_every_key_is_documented() -> None:
    doc = (REPO / "docs" / "listen.md").read_text()
    assert [name for name, _, _ in describe()["[listen]"]] == [
        f.name for f in fields(ListenSection)]
    for f in fields(ListenSection):
        assert f.metadata["help"] and f"`{f.name}`" in doc, f.name

