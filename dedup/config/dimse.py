"""A ``[[sources]]`` block of ``type = "dimse"``: a PACS queried (C-FIND) and read (C-GET).

Example::

    [[sources]]
    name = "pacs-dimse"
    type = "dimse"
    host = "10.1.2.20"
    port = 104
    called_ae = "PACS"        # the PACS's AE title
    calling_ae = "DEDUP"      # ours: the PACS must know it (C-GET is refused otherwise)
    start_date = "20250101"   # first run: studies from this date on (empty: all)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dedup.config.settings import setting


@dataclass(frozen=True, slots=True)
class DimseSource:
    """A PACS pulled over DIMSE: C-FIND of studies by date, C-GET of the new ones."""

    name: str = setting("", "Unique name of the source (letters, digits, '-' and '_').")
    type: str = setting("dimse", "dimse.")
    host: str = setting("", "Address of the PACS's DICOM port.")
    port: int = setting(104, "TCP port of the PACS's DICOM service.")
    called_ae: str = setting("", "AE title of the PACS.")
    calling_ae: str = setting("DEDUP", "Our AE title; the PACS must allow it to C-FIND and "
                                       "C-GET.")
    start_date: str = setting("", "First run: query studies from this date on (YYYYMMDD); "
                                  "empty: every study.")
    overlap_days: int = setting(7, "Days before the high-water mark queried again each run, "
                                   "for studies that arrive after their study date.")
    timeout: float = setting(30.0, "Seconds a DICOM connect or answer may stall.")
    max_failures: int = setting(3, "Failed study retrievals in a row after which the PACS "
                                   "counts as unreachable for this run.")


def check_dimse(source: DimseSource, where: str, problems: list[str]) -> None:
    """Append the problems of one dimse source to ``problems``."""
    if not source.host:
        problems.append(f"{where}: host is required for a dimse source")
    if not 1 <= source.port <= 65535:
        problems.append(f"{where}: port={source.port!r} must be 1-65535")
    for name in ("called_ae", "calling_ae"):
        title = getattr(source, name)
        if not title or len(title) > 16 or "\\" in title or not title.isprintable():
            problems.append(f"{where}: {name}={title!r} must be an AE title: 1-16 printable "
                            "characters without '\\'")
    if source.start_date and not _is_date(source.start_date):
        problems.append(f"{where}: start_date={source.start_date!r} must be YYYYMMDD")
    for name, low in (("overlap_days", 0), ("timeout", 0.001), ("max_failures", 1)):
        if getattr(source, name) < low:
            problems.append(f"{where}: {name}={getattr(source, name)!r} must be >= {low}")


def _is_date(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y%m%d")
    except ValueError:
        return False
    return len(text) == 8
