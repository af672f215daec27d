"""Error hierarchy: every error names the bad value and how to fix it."""

from __future__ import annotations


class DedupError(Exception):
    """Base class for errors the CLI reports as a message, not a traceback."""

    exit_code = 1


class UsageError(DedupError):
    """A bad argument or setting."""

    exit_code = 2


class ArchiveLocked(DedupError):
    """Another batch run holds the archive's write lock."""

    exit_code = 75  # EX_TEMPFAIL: cron may simply try again later


class ArchiveError(DedupError):
    """The archive file cannot be opened or is not a dedup archive."""

    exit_code = 3


class NothingDone(DedupError):
    """A run found inputs but could index none of them."""

    exit_code = 4


class StorageError(DedupError):
    """Local storage failed while writing (disk full, quota, I/O error)."""

    exit_code = 74  # EX_IOERR
