"""dedup.printable: text from outside, escaped for a log line or a terminal."""

from __future__ import annotations

import logging

from hypothesis import given
from hypothesis import strategies as st

from dedup.printable import PrintableRecords, printable


@given(st.text())
def test_the_result_is_printable_and_printable_text_is_unchanged(text: str) -> None:
    shown = printable(text)
    assert shown.isprintable()
    if text.isprintable():
        assert shown == text
    assert all(line.isprintable() for line in printable(text, lines=True).split("\n"))


def test_controls_are_escaped_python_style() -> None:
    assert printable("a\nb\x1b[2J\x07\t\x7f\x85\u202e\u2028\udcff\U000e0001") == (
        "a\\x0ab\\x1b[2J\\x07\\x09\\x7f\\x85\\u202e\\u2028\\udcff\\U000e0001")
    assert printable("Müller^Hans 東京 ½ \\ ok") == "Müller^Hans 東京 ½ \\ ok"
    assert printable("one\ntwo\x1b", lines=True) == "one\ntwo\\x1b"
    assert printable(None) == "None"


def test_log_records_are_escaped_but_tracebacks_kept() -> None:
    record = logging.LogRecord("dedup", logging.INFO, __file__, 1, "GET %s %d",
                               ("/x\nFORGED", 401), None)
    assert PrintableRecords().filter(record)
    assert record.getMessage() == "GET /x\\x0aFORGED 401"
    broken = logging.LogRecord("dedup", logging.INFO, __file__, 1, "%d", ("x",), None)
    assert PrintableRecords().filter(broken) and broken.args == ("x",)  # the handler reports it
