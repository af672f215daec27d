"""dedup: find duplicate and repeat medical imaging studies in a DuckDB archive.

The public API, one name per stage of the data flow (DESIGN.md)::

    from dedup import Settings, index, Checker, parse_question, metrics

    summary = index(["/srv/dicom/incoming"], Settings(archive="archive.duckdb"))
    checker = Checker("archive.duckdb", one_off=True)

Names are imported on first use, so ``import dedup`` stays cheap for the worker processes
that only fingerprint files.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("dicom-dedup")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

_EXPORTS = {
    # configuration
    "Settings": "dedup.config", "Config": "dedup.config", "load_config": "dedup.config",
    # records and errors
    "DuplicateKind": "dedup.records", "QuarantineReason": "dedup.records",
    "Instance": "dedup.records", "Location": "dedup.records", "RunSummary": "dedup.records",
    "DedupError": "dedup.errors", "UsageError": "dedup.errors",
    "ArchiveError": "dedup.errors", "ArchiveLocked": "dedup.errors",
    "NothingDone": "dedup.errors", "StorageError": "dedup.errors",
    # the stages
    "Archive": "dedup.archive.db", "index": "dedup.batch", "nightly": "dedup.batch",
    "Checker": "dedup.check", "Question": "dedup.check",
    "CheckResult": "dedup.check", "parse_question": "dedup.check",
}
_MODULES = ("metrics",)

__all__ = ["__version__", *_EXPORTS, *_MODULES]


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562)."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(f"dedup.{name}")
    else:
        raise AttributeError(f"module 'dedup' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
