"""Table cells a person reads: short study keys, human sizes, masked names, 100 columns.

The tables are for people at a terminal; ``--format json`` keeps the full values (whole
UIDs, bytes, names as stored) for machines.
"""

from __future__ import annotations

import sys

from rich.console import Console

#: The width every table of the CLI fits in when it is not on a terminal (mail, logs).
WIDTH = 100
_KEY_CHARS = 10


def short_uid(uid: str | None, *, full: bool = False) -> str:
    """A UID's last characters (enough to tell studies apart and to grep for), or all of it."""
    if not uid:
        return ""
    if full or len(uid) <= _KEY_CHARS + 1:
        return uid
    return "…" + uid[-_KEY_CHARS:]


def human_bytes(nbytes: int | float | None) -> str:
    """Bytes in the largest unit that keeps the number at least 1 (1 kB = 1000 B)."""
    value = float(nbytes or 0)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def masked_name(name: str | None) -> str:
    """A DICOM person name as initials only (``MUELLER^HANS`` -> ``M. H.``), never the name."""
    parts = [part.strip() for part in (name or "").split("^")[:2] if part.strip()]
    return " ".join(f"{part[0].upper()}." for part in parts) or "-"


def table_console(*, wide: bool = False) -> Console:
    """A console for tables: the terminal's width, else :data:`WIDTH` columns.

    A ``wide`` table (whole UIDs) takes the width of ``COLUMNS`` or the terminal instead.
    """
    return Console(width=None if wide or sys.stdout.isatty() else WIDTH)
