"""``[[sources]] type = "dimse"``: validated with the other sources, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from dedup.config.dimse import DimseSource
from dedup.config.file import describe, load_config
from dedup.errors import UsageError
from tests.conftest import REPO

BLOCK = '[[sources]]\nname = "pacs"\ntype = "dimse"\n'


def _config(tmp_path: Path, keys: str) -> Path:
    path = tmp_path / "dedup.toml"
    path.write_text(f'archive = "a.duckdb"\n\n{BLOCK}{keys}\n')
    return path


def test_a_dimse_source_is_read(tmp_path: Path) -> None:
    keys = 'host = "10.1.2.20"\nport = 11112\ncalled_ae = "PACS"\nstart_date = "20250101"'
    config = load_config(_config(tmp_path, keys), {})
    assert config.sources == (DimseSource(name="pacs", host="10.1.2.20", port=11112,
                                          called_ae="PACS", start_date="20250101"),)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    keys = ('port = 0\ncalling_ae = "A-TITLE-LONGER-THAN-16"\nstart_date = "2025-01-01"\n'
            'overlap_days = -1')
    with pytest.raises(UsageError) as caught:
        load_config(_config(tmp_path, keys), {})
    text = str(caught.value)
    assert "has 6 problems" in text
    for expected in ("host is required", "port=0", "called_ae=''",
                     "calling_ae='A-TITLE-LONGER-THAN-16'", "start_date='2025-01-01'",
                     "overlap_days=-1"):
        assert expected in text


def test_every_key_is_documented() -> None:
    doc = (REPO / "docs" / "dimse.md").read_text()
    for name, _, help_text in describe()["[[sources]] dimse"]:
        assert help_text and (name in ("name", "type") or f"`{name}`" in doc), name
