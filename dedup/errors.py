"""Error hierarchy: every error names the bad value and how to fix it; and the exit codes."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum


class ExitCode(IntEnum):
    """What the exit status of a ``dedup`` command means: the one table of exit codes.

    Each member's ``__doc__`` is its meaning; the error classes below, the nightly run and
    ``dedup nightly --help`` read them from here. Codes above 64 follow BSD ``sysexits.h``
    (70 EX_SOFTWARE, 74 EX_IOERR, 75 EX_TEMPFAIL), which cron and systemd users know.
    Each number means one thing in every command (``dedup check`` has its own code for
    "priors found", :attr:`PRIORS_FOUND`, and exits :attr:`ARCHIVE` like the others).
    """

    def __new__(cls, code: int, meaning: str = "", action: str = "") -> ExitCode:
        """One member: its number, its meaning (the docstring) and what to do about it."""
        member = int.__new__(cls, code)
        member._value_ = code
        member.__doc__ = meaning
        member.action = action
        return member

    action: str

    OK = 0, "ok", "nothing"
    ERROR = 1, (
        "an error, reported on one line; for `dedup nightly` also partial: a source was "
        "unreachable or PACS instances wait on the retry list (only with `strict_sources`, "
        "the default), or inputs were quarantined (only with `fail_on_quarantine`)"), (
        "read the report; the next run retries what failed, `dedup quarantine` lists bad "
        "inputs")
    PARTIAL = 1  # the same code: what `dedup nightly` means by it (see ERROR)
    USAGE = 2, ("configuration error or bad argument: every problem is listed; nothing was "
                "done"), "fix the file or the arguments"
    ARCHIVE = 3, ("the archive cannot be opened (missing, not a dedup archive, written by a "
                  "newer dedup, or nothing published yet)"), (
        "check `archive` (`dedup index` creates and publishes it)")
    NOTHING_DONE = 4, ("nothing could be done: every source unreachable, no input found "
                       "(an empty folder), or no input could be indexed"), "check the sources"
    PRIORS_FOUND = 5, ("`dedup check` only, not an error: the patient has priors (`yes` or "
                       "`possible`)"), "look at the priors before ordering"
    SOFTWARE = 70, ("internal error: a bug; the report says so and the traceback is on "
                    "stderr"), "report it"
    IO_ERROR = 74, ("disk full or I/O error while writing the archive or the spool; the "
                    "archive keeps every batch committed before it"), (
        "free space and rerun: the run resumes")
    LOCKED = 75, "another run holds the lock; nothing was done", (
        "nothing (cron retries the next night)")


def exit_code_table() -> str:
    """The README's exit-code table, generated from :class:`ExitCode` (tested against it)."""
    rows = ["| code | meaning | what to do |", "| --- | --- | --- |"]
    rows += [f"| {code.value} | {code.__doc__} | {code.action} |" for code in ExitCode]
    return "\n".join(rows)


class DedupError(Exception):
    """Base class for errors the CLI reports as a message, not a traceback.

    Args:
        message: what went wrong and how to fix it (no names, IDs or birth dates).
        details: what was done before it went wrong, for ``--format json`` (counts only).

    """

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.details = dict(details or {})

    @property
    def status(self) -> str:
        """The word a JSON report gives this outcome (``nothing-done``, ``locked`` ...)."""
        return _STATUS.get(self.exit_code, "failed")

    def report(self) -> dict[str, object]:
        """The JSON report of this outcome: the details, status, exit code and message."""
        return {**self.details, "status": self.status, "exit_code": int(self.exit_code),
                "error": str(self)}


class UsageError(DedupError):
    """A bad argument or setting."""

    exit_code = ExitCode.USAGE


class ArchiveLocked(DedupError):
    """Another batch run holds the archive's write lock."""

    exit_code = ExitCode.LOCKED


class ArchiveError(DedupError):
    """The archive file cannot be opened or is not a dedup archive."""

    exit_code = ExitCode.ARCHIVE


class NothingDone(DedupError):
    """A run found inputs but could index none of them."""

    exit_code = ExitCode.NOTHING_DONE


class StorageError(DedupError):
    """Local storage failed while writing (disk full, quota, I/O error)."""

    exit_code = ExitCode.IO_ERROR


#: What a full disk or quota looks like: the errno of an OSError, or words in a message of
#: DuckDB (which reports the OS error in its own exception types).
_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_DISK_FULL_WORDS = ("no space left", "file too large", "quota")


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc``, or an exception that led to it, is a full disk, quota or file limit.

    The chain matters: after a failed write DuckDB invalidates the database, so what reaches
    the caller is often a later "database has been invalidated" error, raised while the
    failed one was being handled.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _DISK_FULL_ERRNOS:
            return True
        if any(words in str(current).lower() for words in _DISK_FULL_WORDS):
            return True
        current = current.__cause__ or current.__context__
    return False


@contextmanager
def disk_full_is_storage_error(archive: str) -> Iterator[None]:
    """Report a full disk while writing ``archive`` as a :class:`StorageError` (exit 74).

    ``dedup index`` and ``dedup nightly`` both run their indexing inside it, so the same
    failure has the same message and exit code in both; any other error passes unchanged.

    Raises:
        StorageError: the disk (or quota, or file size limit) was full.

    """
    try:
        yield
    except DedupError:
        raise
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        raise StorageError(
            f"disk full while writing the archive {archive!r} ({type(exc).__name__}); the "
            "archive keeps every batch committed before it: free space and rerun, the next "
            "run resumes where this one stopped") from None


_STATUS = {ExitCode.USAGE: "usage-error", ExitCode.LOCKED: "locked",
           ExitCode.ARCHIVE: "archive-error", ExitCode.NOTHING_DONE: "nothing-done",
           ExitCode.IO_ERROR: "storage-error"}
