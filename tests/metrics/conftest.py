"""Fixtures of the metrics tests: the known-answer archive and round-number reference tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from dedup.config import Settings
from tests.metrics.known_archive import build_archive, round_number_settings


@pytest.fixture
def model_settings(tmp_path: Path) -> Settings:
    """Reference tables with round numbers: CT HEAD $100 / 2 mSv, XR CHEST $10 / 0.1 mSv."""
    return round_number_settings(tmp_path)


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A published archive holding exactly the rows of tests.metrics.known_archive."""
    return build_archive(tmp_path / "archive.duckdb")
