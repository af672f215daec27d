"""dedup.cli.output: progress without a terminal is a plain line at most once per interval."""

from __future__ import annotations

import logging

import pytest

from dedup.cli.output import PROGRESS_LINE_SECONDS, progress_reporter


def test_without_a_terminal_progress_is_a_plain_line_per_interval(
        caplog: pytest.LogCaptureFixture) -> None:
    assert PROGRESS_LINE_SECONDS == 60
    with caplog.at_level(logging.INFO, logger="dedup"):
        with progress_reporter("indexing") as report:  # pytest's stderr is no terminal
            for n in range(1, 500):
                report(n, n * 1_000_000)
        assert caplog.messages == []  # a run shorter than a minute: no line
        with progress_reporter("indexing", every=0) as report:
            report(7, 12_000_000)
    assert caplog.messages == ["indexing: 7 inputs, 12 MB read"]
