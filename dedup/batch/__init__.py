"""The batch: index what arrived (fingerprint, commit, match, publish) and the nightly run.

:func:`index` is imported when first used, so that :mod:`dedup.batch.workers` can start the
workers' server before anything heavy is imported. The nightly run is
:func:`dedup.batch.nightly.nightly`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dedup.batch.pipeline import index

__all__ = ["index"]


def __getattr__(name: str) -> Any:
    if name != "index":
        raise AttributeError(f"module 'dedup.batch' has no attribute {name!r}")
    from dedup.batch.pipeline import index

    return index
