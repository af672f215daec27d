"""``[[sources]] type = "dicomweb"`` in the TOML file: keys, credentials, every problem at once."""

from __future__ import annotations

import base64
from dataclasses import fields
from pathlib import Path

import pytest

from dedup.config import DicomwebSource, describe, load_config
from dedup.errors import UsageError
from tests.conftest import REPO

GOOD = """
archive = "archive.duckdb"

[[sources]]
name = "vna"
type = "dicomweb"
url = "https://vna.example/dcm4chee-arc/aets/DCM4CHEE/rs"
token_file = "secrets/vna.token"
page_size = 50
spool_limit_mb = 2000
since = "20240101"

[[sources]]
name = "cloud"
type = "dicomweb"
url = "http://127.0.0.1:8042"
qido_prefix = "qido-rs"
wado_prefix = "wado-rs"
username = "dedup"
password_env = "CLOUD_PW"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dedup.toml"
    path.write_text(text)
    return path


def test_dicomweb_sources_with_bearer_and_basic_credentials(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "vna.token").write_text("tok-123\n")
    env = {"CLOUD_PW": "pw", "DEDUP_SOURCE_CLOUD_TIMEOUT": "2.5"}
    vna, cloud = load_config(write(tmp_path, GOOD), env).sources
    assert isinstance(vna, DicomwebSource) and isinstance(cloud, DicomwebSource)
    assert vna.token_file == str(tmp_path / "secrets" / "vna.token")
    assert (vna.page_size, vna.spool_limit_mb, vna.since) == (50, 2000.0, "20240101")
    assert vna.authorization({}) == {"Authorization": "Bearer tok-123"}
    assert (cloud.qido_prefix, cloud.wado_prefix, cloud.timeout) == ("qido-rs", "wado-rs", 2.5)
    basic = base64.b64encode(b"dedup:pw").decode()
    assert cloud.authorization(env) == {"Authorization": f"Basic {basic}"}


def test_every_problem_of_a_dicomweb_source_at_once(tmp_path: Path) -> None:
    bad = """
[[sources]]
name = "pacs"
type = "dicomweb"
url = "ftp://user:secret@pacs/dicom-web"
qido_prefix = "/../etc"
username = "dedup"
token_env = "TOKEN"
token_file = "missing.token"
since = "2024-01-01"
page_size = 0
overlap_days = -1
"""
    with pytest.raises(UsageError) as caught:
        load_config(write(tmp_path, bad), {})
    message = str(caught.value)
    for expected in ("url='ftp://user:secret@pacs/dicom-web' must be http(s)",
                     "must hold no credentials", "qido_prefix='/../etc' must be a relative path",
                     "not both", "neither password_env nor password_file",
                     "token_env names 'TOKEN', which is not set",
                     "missing.token' is not a file", "since='2024-01-01' must be a date",
                     "page_size=0 must be >= 1", "overlap_days=-1 must be >= 0"):
        assert expected in message, expected
    assert "has 10 problems" in message


def test_every_dicomweb_key_is_documented() -> None:
    doc = (REPO / "docs" / "sources.md").read_text()
    assert [n for n, _, _ in describe()["[[sources]] dicomweb"]] == [
        f.name for f in fields(DicomwebSource)]
    for f in fields(DicomwebSource):
        assert f.metadata["help"], f"{f.name} has no help"
        assert f"`{f.name}`" in doc, f"{f.name} missing from docs/sources.md"
