"""The one text-to-type conversion of environment overrides (and quoted TOML values)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from dedup.config import ENV_PREFIX, env_overrides, from_text
from dedup.config.env import BOOLEAN_WORDS, env_name
from dedup.errors import UsageError


@dataclass(frozen=True)
class Knobs:
    name: str = ""
    on: bool = False
    count: int = 1
    share: float = 0.5


@pytest.mark.parametrize(("raw", "expected"), [
    ("1", True), ("true", True), (" YES ", True), ("True", True),
    ("0", False), ("false", False), ("No", False), (" FALSE\n", False),
])
def test_booleans_are_read_from_their_words_in_any_case(raw: str, expected: bool) -> None:
    assert from_text(raw, bool, "DEDUP_ON") is expected


@pytest.mark.parametrize(("raw", "kind", "expected"), [
    ("4", int, 4), (" 12 ", int, 12), ("-3", int, -3),
    ("0.5", float, 0.5), ("1e-5", float, 1e-5), ("2", float, 2.0),
    (" text with spaces ", str, " text with spaces "), ("", str, ""),
])
def test_numbers_and_text(raw: str, kind: type, expected: object) -> None:
    value = from_text(raw, kind, "DEDUP_X")
    assert value == expected and type(value) is kind


@pytest.mark.parametrize("raw", ["flase", "", "2", "on", "y"])
def test_a_misspelt_boolean_is_an_error_naming_the_variable_and_the_words(raw: str) -> None:
    with pytest.raises(UsageError) as info:
        from_text(raw, bool, "DEDUP_PUBLISH")
    message = str(info.value)
    assert message.startswith(f"DEDUP_PUBLISH={raw!r} is not a valid bool")
    assert all(word in message for word in BOOLEAN_WORDS)


@pytest.mark.parametrize(("raw", "kind", "hint"), [
    ("4.5", int, "a whole number"), ("many", int, "a whole number"),
    ("half", float, "a number"), ("", float, "a number"),
])
def test_a_bad_number_is_an_error_naming_the_variable(raw: str, kind: type, hint: str) -> None:
    with pytest.raises(UsageError, match=f"^DEDUP_N={raw!r} is not a valid {kind.__name__}; "
                                         f"use {hint}"):
        from_text(raw, kind, "DEDUP_N")


def test_variable_names() -> None:
    assert ENV_PREFIX == "DEDUP_"
    assert env_name("lsh_bands") == "DEDUP_LSH_BANDS"
    assert env_name("timeout", "DEDUP_SOURCE_PACS_") == "DEDUP_SOURCE_PACS_TIMEOUT"


def test_overrides_are_typed_and_only_for_the_fields_set() -> None:
    problems: list[str] = []
    env = {"DEDUP_ON": "yes", "DEDUP_SHARE": "0.25", "DEDUP_OTHER": "x", "ON": "0"}
    assert env_overrides(Knobs, env, problems) == {"on": True, "share": 0.25}
    assert problems == []


def test_overrides_honour_the_prefix_and_the_fields_skipped() -> None:
    problems: list[str] = []
    env = {"APP_NAME": "renamed", "APP_COUNT": "7", "DEDUP_COUNT": "9"}
    assert env_overrides(Knobs, env, problems, prefix="APP_", skip=("name",)) == {"count": 7}
    assert problems == []


def test_every_bad_override_is_reported_and_the_good_ones_kept() -> None:
    problems: list[str] = []
    env = {"DEDUP_ON": "flase", "DEDUP_COUNT": "1.5", "DEDUP_SHARE": "0.1", "DEDUP_NAME": "n"}
    assert env_overrides(Knobs, env, problems) == {"share": 0.1, "name": "n"}
    assert len(problems) == 2
    assert problems[0].startswith("DEDUP_ON='flase' is not a valid bool")
    assert problems[1].startswith("DEDUP_COUNT='1.5' is not a valid int")
