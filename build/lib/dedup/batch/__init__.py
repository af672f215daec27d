"""The batch: index what arrived (fingerprint, commit, match, publish) and the nightly run."""

from dedup.batch.nightly import NightlyReport, nightly
from dedup.batch.pipeline import index

__all__ = ["NightlyReport", "index", "nightly"]
