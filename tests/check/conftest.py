from __future__ import annotations

from pathlib import Path

import pytest

from dedup.check import Checker, CheckLog
from dedup.config import Settings
from tests.check.archive import build_check_archive


@pytest.fixture(scope="package")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_check_archive(tmp_path_factory.mktemp("check") / "archive.duckdb")


@pytest.fixture(scope="package")
def checker(archive: Path) -> Checker:
    return Checker(archive, Settings(archive=str(archive)), CheckLog(archive))
