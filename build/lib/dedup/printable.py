r"""Text from outside, made safe to write to a log or a terminal.

File names, DICOM values, URL paths and zip member names are chosen by whoever made the input.
Written raw, a newline forges a log line, an escape sequence drives the terminal (clears it,
retitles the window, hides text), a bidirectional override reorders what is shown, and a
lone surrogate (a file name that is not UTF-8) makes the write itself fail. :func:`printable`
escapes every character that is not printable, Python-style (``\x1b``, ``\u202e``), and
leaves the rest alone; :class:`PrintableRecords` does it to every log record a handler
writes (not to tracebacks, which are ours).
"""

from __future__ import annotations

import logging

__all__ = ["PrintableRecords", "printable"]


def printable(value: object, *, lines: bool = False) -> str:
    r"""``str(value)`` with control and other non-printable characters escaped.

    Args:
        value: anything; its ``str`` is escaped.
        lines: keep line breaks (``\n``) as they are: for a message of several lines that
            are each escaped (a list of problems), never for a single value.

    """
    text = str(value)
    if text.isprintable():
        return text
    if lines:
        return "\n".join(printable(line) for line in text.split("\n"))
    return "".join(char if char.isprintable() else _escaped(char) for char in text)


def _escaped(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class PrintableRecords(logging.Filter):
    """A handler filter that escapes each record's message (see :func:`printable`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message by its escaped text; never drops a record."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: leave it to the handler's error handling
            return True
        if not message.isprintable():
            record.msg, record.args = printable(message), None
        return True
