"""The one token loader: environment and tokens file, `name:token`, mode 600, long tokens."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dedup.config import accepted_tokens, load_config, read_tokens_file, tokens_from
from dedup.config.tokens import split_tokens
from dedup.errors import UsageError

LONG = "a" * 20
OTHER = "b" * 24
SOURCE = '[[sources]]\nname = "a"\ntype = "folder"\npath = "."\n'


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def tokens_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "tokens"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_a_comma_separated_list() -> None:
    assert split_tokens(f" {LONG} ,, sched:{OTHER},") == [LONG, f"sched:{OTHER}"]
    assert split_tokens("") == []


def test_a_named_token_names_its_caller_and_a_nameless_one_its_hash() -> None:
    tokens = accepted_tokens([f"scheduler:{OTHER}", LONG, "  ", ""])
    assert tokens[digest(OTHER)] == "scheduler"
    assert tokens[digest(LONG)] == f"token-{digest(LONG).hex()[:8]}"
    assert len(tokens) == 2 and accepted_tokens([]) == {}


def test_short_tokens_are_refused_counting_the_part_after_the_name() -> None:
    with pytest.raises(UsageError, match=r"^2 API token\(s\) shorter than 16 characters"):
        accepted_tokens([LONG, "short", "a-long-caller-name:short"])


def test_the_file_skips_blank_and_comment_lines(tmp_path: Path) -> None:
    path = tokens_file(tmp_path, f"# the scheduler\nsched:{OTHER}\n\n  {LONG}  \n  # old\n")
    assert read_tokens_file(path) == [f"sched:{OTHER}", LONG]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_file_others_may_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = tokens_file(tmp_path, LONG, mode)
    with pytest.raises(UsageError) as info:
        read_tokens_file(path)
    assert str(info.value) == (f"tokens file {str(path)!r} has mode {mode:o}; it must be "
                               f"readable by its owner only: chmod 600 {path}")


def test_an_unreadable_file_is_named_by_its_label(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^tokens file '.*absent' cannot be read \(No such"):
        read_tokens_file(tmp_path / "absent")
    with pytest.raises(UsageError, match=r"^tokens_file='absent' cannot be read"):
        read_tokens_file(tmp_path / "absent", "tokens_file='absent'")


def test_the_service_gathers_every_place(tmp_path: Path) -> None:
    third, fourth = "c" * 30, "d" * 30
    path = tokens_file(tmp_path, f"ehr:{fourth}\n")
    env = {"DEDUP_SERVICE_TOKENS": f"sched:{OTHER}", "DEDUP_TOKENS": third}
    tokens = tokens_from(env, path, configured=[LONG])
    assert set(tokens) == {digest(t) for t in (LONG, OTHER, third, fourth)}
    assert tokens[digest(fourth)] == "ehr"
    from_variable = tokens_from({"DEDUP_TOKENS_FILE": str(path)})
    assert from_variable == {digest(fourth): "ehr"}


def test_the_service_needs_a_token(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^no API tokens configured"):
        tokens_from({"DEDUP_SERVICE_TOKENS": " , "})
    with pytest.raises(UsageError, match="chmod 600"):
        tokens_from({}, tokens_file(tmp_path, LONG, 0o644))


def test_the_config_file_checks_tokens_as_the_service_does(tmp_path: Path) -> None:
    config = tmp_path / "dedup.toml"
    config.write_text(SOURCE + '[service]\ntokens_file = "tokens"\ntokens_env = "MY_TOKENS"\n')
    tokens_file(tmp_path, f"# comment line\nsched:{OTHER}\n")
    loaded = load_config(config, {"MY_TOKENS": LONG})
    assert loaded.tokens == (LONG, f"sched:{OTHER}")
    assert tokens_from({}, configured=loaded.tokens) == accepted_tokens(loaded.tokens)
    (tmp_path / "tokens").chmod(0o644)
    with pytest.raises(UsageError) as info:
        load_config(config, {"MY_TOKENS": "a-long-caller-name:short"})
    message = str(info.value)
    assert "has 2 problems" in message
    assert "[service]: tokens_file='tokens' has mode 644; it must be readable by its owner " \
           f"only: chmod 600 {tmp_path / 'tokens'}" in message
    assert "[service]: 1 API token(s) shorter than 16 characters" in message
