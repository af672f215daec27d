"""What every PACS pull shares: the spool folder, its state file, retries and the result.

Layout, for a source named ``<source>``::

    <spool root>/<source>/...                 files, indexed like any folder source
    <spool root>/<source>.state.json          cursor, the source's marks, items to retry
    <spool root>/.partial/                    downloads in progress

Durability: a file is written under ``.partial``, fsynced and renamed into place, so a spool
file is always complete. The state is rewritten atomically (temporary file, fsync, rename), and
only after the folders of every file it covers are fsynced, so a crash or ``kill -9`` never
leaves a state that is ahead of the spool: what the state says is done is on disk or on the
retry list.

Faults: every request is retried with bounded exponential backoff (:func:`with_retries`). An
item that still fails goes on the retry list and the pull goes on; after ``max_failures``
failures in a row the server counts as unreachable and the pull stops there. With a spool
limit, a pull stops cleanly once it has written that much; the rest waits for the next run.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from dedup.errors import StorageError
from dedup.private import private_folder, private_opener

log = logging.getLogger("dedup.spool")

_STATE_VERSION = 1
T = TypeVar("T")
Progress = Callable[[int], None]  # called with the number of files spooled so far


class RetryPolicy(Protocol):
    """The retry settings every PACS source declares."""

    @property
    def retries(self) -> int: ...  # noqa: D102
    @property
    def backoff(self) -> float: ...  # noqa: D102
    @property
    def backoff_max(self) -> float: ...  # noqa: D102
    @property
    def max_failures(self) -> int: ...  # noqa: D102


class SourceUnreachable(Exception):
    """The server cannot be used for the rest of this run (down, refusing, bad credentials)."""


class SpoolFull(Exception):
    """The run wrote as much as the source's spool limit allows; the rest waits."""


class FetchFailed(Exception):
    """One request failed for good (after retries, or with a non-retryable status)."""


class Gone(Exception):
    """The resource no longer exists on the server (HTTP 404)."""


class LocalError(Exception):
    """Writing the local spool failed: not the server's fault, never retried."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(slots=True)
class PullResult:
    """What one pull did; the JSON form goes into the nightly report."""

    source: str
    fetched: int = 0  # files downloaded into the spool by this run
    bytes: int = 0
    already: int = 0  # already spooled by an earlier, interrupted run
    retried: int = 0  # earlier failures fetched by this run
    gone: int = 0  # deleted from the PACS before they could be fetched
    pending: int = 0  # on the retry list after this run
    unreachable: str = ""  # why the pull stopped early; empty when it did not
    spool_full: bool = False  # stopped at the spool limit; the rest is pulled next run
    cursor: int | str = 0  # where the next pull starts (a change number, a date)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Return the result as plain JSON values."""
        return asdict(self)


@dataclass(slots=True)
class State:
    """A source's persisted position: cursor, its own marks and the retry list."""

    url: str = ""
    cursor: int | str = 0
    failed: dict[str, dict[str, Any]] = field(default_factory=dict)
    marks: dict[str, Any] = field(default_factory=dict)  # per-source bookkeeping


def spool_dir(spool_root: Path, name: str) -> Path:
    """The folder a source's files are spooled to (the folder the indexer reads)."""
    return spool_root / name


class Spool:
    """One pull's spool: its state, the files touched since the last save, the counts."""

    def __init__(self, root: Path, name: str, policy: RetryPolicy, *, limit_mb: float = 0,
                 progress: Progress | None = None) -> None:
        self.root, self.name, self.policy, self.progress = root, name, policy, progress
        self.files = spool_dir(root, name)
        self.partial = root / ".partial"
        self.state_path = root / f"{name}.state.json"
        self.limit = int(limit_mb * 1e6)
        self.result = PullResult(name)
        self.state = State()
        self.touched: set[Path] = set()
        self.in_a_row = 0
        self.loaded = False

    def open(self, url: str, restart: str) -> State:
        """Create the folders, drop stale partial files and load the state.

        Args:
            url: the server's address; a state saved for another address restarts.
            restart: what restarting means for this source, for the warning.

        Returns:
            The state to continue from (its retry list is kept across a restart).

        """
        private_folder(self.partial)  # spooled files hold patient data: folders 700
        private_folder(self.files)
        for stale in self.partial.iterdir():
            stale.unlink()
        self.state = load_state(self.state_path)
        self.loaded = True
        if self.state.url != url:
            if self.state.url:
                log.warning("source %s: url changed; %s (spooled files are not fetched "
                            "again)", self.name, restart)
            self.state = State(url=url, failed=self.state.failed)
        return self.state

    def fetch(self, key: str, target: Path, download: Callable[[Path], int]) -> str:
        """Spool one file unless it is there; return fetched, already, gone or failed.

        A failure is recorded on the retry list under ``key``.

        Raises:
            SourceUnreachable: ``max_failures`` downloads failed in a row.
            SpoolFull: this run has written the spool limit.

        """
        if target.exists():
            self.result.already += 1
            return "already"
        if self.limit and self.result.bytes >= self.limit:
            raise SpoolFull(f"{self.result.bytes} bytes written")
        part = self.partial / f"{target.name}.part"
        try:
            size = download(part)
        except Gone:
            self.result.gone += 1
            return "gone"
        except FetchFailed as exc:
            self.fail(key, exc)
            return "failed"
        self.in_a_row = 0
        private_folder(target.parent)
        os.replace(part, target)
        self.touched.add(target.parent)
        self.result.fetched += 1
        self.result.bytes += size
        if self.progress:
            self.progress(self.result.fetched)
        return "fetched"

    def fail(self, key: str, exc: FetchFailed) -> None:
        """Put ``key`` on the retry list with the error and count it as a failure in a row.

        Raises:
            SourceUnreachable: ``max_failures`` requests failed in a row.

        """
        entry = self.state.failed.setdefault(key, {"attempts": 0})
        entry.update(attempts=entry.get("attempts", 0) + 1, error=str(exc))
        self.in_a_row += 1
        if self.in_a_row >= self.policy.max_failures:
            raise SourceUnreachable(f"{self.in_a_row} downloads failed in a row "
                                    f"(last: {exc})") from None

    def retry_failed(self, fetch: Callable[[str], str]) -> None:
        """Fetch every item of the retry list again with ``fetch(key)``; keep what fails."""
        for key in list(self.state.failed):
            outcome = fetch(key)
            if outcome in ("fetched", "already", "gone"):
                del self.state.failed[key]
                self.result.retried += outcome != "gone"
        self.save()

    def save(self) -> None:
        """Make the spooled files durable, then the state that covers them."""
        if not self.loaded:
            return
        for folder in sorted(self.touched):
            fsync_dir(folder)
        self.touched.clear()
        save_state(self.state_path, self.state)


def run_pull(spool: Spool, body: Callable[[], None]) -> PullResult:
    """Run one pull's ``body``, save its state whatever happens, and sum it up.

    Returns:
        Counts, the retry list's length and, if the pull stopped early, why.

    Raises:
        StorageError: the spool cannot be written (disk full, permissions).

    """
    started = time.monotonic()
    try:
        try:
            body()
        finally:
            spool.save()
    except SourceUnreachable as exc:
        spool.result.unreachable = str(exc)
        log.warning("source %s: unreachable, pull stopped: %s", spool.name, exc)
    except SpoolFull as exc:
        spool.result.spool_full = True
        log.warning("source %s: spool limit reached (%s); the rest is pulled next run",
                    spool.name, exc)
    except (OSError, LocalError) as exc:
        error = exc.error if isinstance(exc, LocalError) else exc
        raise StorageError(f"cannot write the spool of source {spool.name!r} under "
                           f"{str(spool.root)!r}: {error.strerror or error}; free space and "
                           "rerun (nothing fetched so far is lost)") from None
    result = spool.result
    result.pending, result.cursor = len(spool.state.failed), spool.state.cursor
    result.seconds = round(time.monotonic() - started, 3)
    return result


def load_state(path: Path) -> State:
    """Read a state file; a missing one is the empty state.

    Raises:
        StorageError: the file exists but cannot be read or parsed.

    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        cursor = doc.get("cursor", 0)
        return State(url=str(doc.get("url", "")),
                     cursor=cursor if isinstance(cursor, str) else int(cursor),
                     failed=dict(doc.get("failed", {})), marks=dict(doc.get("marks", {})))
    except FileNotFoundError:
        return State()
    except (ValueError, TypeError, AttributeError, OSError) as exc:
        raise StorageError(f"state file {str(path)!r} is unreadable ({exc}); restore it, or "
                           "delete it to read the server from the start") from None


def save_state(path: Path, state: State) -> None:
    """Write the state through a temporary file, fsync and rename: old or new, never half."""
    doc = {"version": _STATE_VERSION, "url": state.url, "cursor": state.cursor,
           "failed": state.failed, "marks": state.marks,
           "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", opener=private_opener) as fh:
        json.dump(doc, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (renames, new files) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(dest: Path, chunks: Iterable[bytes]) -> int:
    """Write ``chunks`` to ``dest`` (owner-only, fsynced) and return the size.

    Raises:
        LocalError: the file cannot be written (its OSError inside).

    """
    with local(partial(open, dest, "wb", opener=private_opener)) as fh:
        size = 0
        for chunk in chunks:
            local(fh.write, chunk)
            size += len(chunk)
        local(fh.flush)
        local(os.fsync, fh.fileno())
    return size


def local(function: Callable[..., T], *args: Any) -> T:
    """Call a local file operation; its OSError becomes a :class:`LocalError`.

    Raises:
        LocalError: the operation failed.

    """
    try:
        return function(*args)
    except OSError as exc:
        raise LocalError(exc) from exc


def with_retries(call: Callable[[], T], policy: RetryPolicy,
                 describe: Callable[[Exception], str],
                 errors: tuple[type[Exception], ...]) -> T:
    """Call ``call`` until it succeeds, at most ``policy.retries`` times, backing off between.

    Args:
        call: one attempt.
        policy: attempts and delays.
        describe: turns a retryable error into its text; raises for an error that ends it.
        errors: the exception types ``describe`` sees; others propagate at once.

    Raises:
        FetchFailed: every attempt failed.

    """
    error = ""
    for attempt, delay in enumerate(_delays(policy)):
        if attempt:
            time.sleep(delay)
        try:
            return call()
        except errors as exc:
            error = describe(exc)
    raise FetchFailed(f"{error} after {policy.retries} attempts")


def status_error(code: int, auth_hint: str) -> str:
    """Return a retryable HTTP status's text, or raise the outcome of a final one.

    Raises:
        Gone: HTTP 404.
        SourceUnreachable: HTTP 401 or 403 (the message says what to check).
        FetchFailed: any other status that retrying will not change.

    """
    if code == 404:
        raise Gone("HTTP 404")
    if code in (401, 403):
        raise SourceUnreachable(f"HTTP {code}: check {auth_hint}")
    if code in (408, 429) or code >= 500:
        return f"HTTP {code}"
    raise FetchFailed(f"HTTP {code}")


def network_error(exc: BaseException) -> str:
    """Name a network failure: refused, timed out, or its type (the cause chain is searched)."""
    causes: list[BaseException] = []
    todo = [exc]
    while todo and len(causes) < 20:
        cause = todo.pop()
        if any(cause is seen for seen in causes):
            continue
        causes.append(cause)
        todo += [c for c in (getattr(cause, "reason", None), cause.__cause__,
                             cause.__context__, *cause.args) if isinstance(c, BaseException)]
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "connection refused"
    if any(isinstance(c, TimeoutError) for c in causes):
        return "timed out"
    return f"network error ({type(exc).__name__})"


def _delays(policy: RetryPolicy) -> Iterator[float]:
    """One delay per attempt: 0, then backoff x 2^k with jitter, capped at backoff_max."""
    for attempt in range(policy.retries):
        base = min(policy.backoff * 2 ** (attempt - 1), policy.backoff_max) if attempt else 0
        yield base * random.uniform(0.5, 1.0)
