"""dedup/__init__.py: the public API resolves, and importing the package stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import dedup


@pytest.mark.parametrize("name", dedup.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(dedup, name) is not None
    assert name in dir(dedup)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = dedup.nope  # type: ignore[attr-defined]


def test_importing_dedup_loads_no_database_or_dataframe_library() -> None:
    code = ("import sys, dedup; heavy = {'duckdb', 'polars', 'splink', 'dedup.batch'}; "
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
