"""Every command's ``--help``: plain flags and arguments, and one spelling per option."""

from __future__ import annotations

from collections import defaultdict

import pytest
import typer
from typer.testing import CliRunner

from dedup.cli.main import app
from dedup.errors import ExitCode

GROUP = typer.main.get_command(app)
COMMANDS = sorted(GROUP.commands)  # type: ignore[attr-defined]


def _help(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_shows_no_type_after_a_flag_and_no_braces(command: str) -> None:
    shown = _help(*filter(None, [command]))
    assert "<bool>" not in shown and "<list[" not in shown, shown
    usage = next(line for line in shown.splitlines() if "Usage:" in line)
    assert "{" not in usage and "<" not in usage, usage
    assert "--address" not in shown  # listen addresses are --host everywhere


def test_an_option_has_one_spelling_in_every_command() -> None:
    spellings: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for name in COMMANDS:
        for param in GROUP.commands[name].params:  # type: ignore[attr-defined]
            if param.param_type_name == "option" and not param.hidden:
                spellings[param.name].add(tuple(sorted(param.opts + param.secondary_opts)))
    assert {k: v for k, v in spellings.items() if len(v) > 1} == {}
    assert spellings["archive"] == {("--archive", "-a")}
    assert spellings["config"] == {("--config", "-c")}
    assert spellings["fmt"] == {("--format", "-f")}
    assert spellings["host"] == {("--host",)} and "address" not in spellings


def test_the_old_dashboard_address_flag_still_works_and_is_named_in_errors() -> None:
    refused = CliRunner().invoke(app, ["dashboard", "--address", "0.0.0.0"])
    assert refused.exit_code != 0
    assert isinstance(refused.exception, Exception)
    assert "--address 0.0.0.0 is not a loopback address" in str(refused.exception)
    refused = CliRunner().invoke(app, ["dashboard", "--host", "0.0.0.0"])
    assert "--host 0.0.0.0 is not a loopback address" in str(refused.exception)


def test_check_help_gives_its_exit_code_from_the_one_table() -> None:
    shown = " ".join(_help("check").split())
    assert f"exits 0 when there is no prior and {int(ExitCode.PRIORS_FOUND)} when" in \
        shown.lower()
