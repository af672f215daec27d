from __future__ import annotations

from pathlib import Path

import pytest

from dedup.check.pseudonym import load_key, pseudonym
from dedup.errors import UsageError

KEY, OTHER_KEY = bytes(32), bytes([1]) * 32


def test_the_same_person_gets_one_pseudonym_under_one_key() -> None:
    hans = pseudonym(KEY, "MUELLER^HANS", "1950-03-14", "M")
    assert len(hans) == 32 and "MUELLER" not in hans
    assert pseudonym(KEY, "Müller^Hans", "1950-03-14", "male") == hans
    assert pseudonym(OTHER_KEY, "MUELLER^HANS", "1950-03-14", "M") != hans
    assert pseudonym(KEY, "MUELLER^KARL", "1950-03-14", "M") != hans
    assert pseudonym(KEY, "MUELLER^HANS", "1950-03-15", "M") != hans


def test_a_missing_key_is_created_once_and_a_malformed_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "archive.checks.key"
    key = load_key(path)
    assert len(key) == 32 and load_key(path) == key
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_text("not hex\n")
    with pytest.raises(UsageError, match="not hex"):
        load_key(path)
