"""Pull new instances from an Orthanc PACS into a local spool folder, incrementally.

Orthanc numbers every change (``GET /changes?since=N``). For each ``NewInstance`` change the
file is downloaded from ``/instances/{id}/file`` into the spool::

    <spool root>/<source>/<id[:2]>/<id>.dcm       indexed like any folder source
    <spool root>/<source>.state.json              cursor and items to retry
    <spool root>/.partial/                        downloads in progress

Durability: a file is written under ``.partial``, fsynced and renamed into place, so a spool
file is always complete. The state (the last change handled, and the instances that could not
be fetched) is rewritten atomically, and only after the files of every change it covers are
durable, so a crash or ``kill -9`` never moves the cursor past an instance that is neither in
the spool nor on the retry list. A crashed run redoes at most one page of changes, skipping
files already spooled.

Faults: every request has a timeout and is retried with bounded exponential backoff. An
instance that still fails is put on the retry list and the pull goes on; after
``max_failures`` failures in a row the server counts as unreachable and the pull stops there.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from dedup.config.file import OrthancSource
from dedup.errors import StorageError
from dedup.private import private_folder, private_opener

log = logging.getLogger("dedup.orthanc")

_ID = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{8}){4}$")  # Orthanc's SHA-1 based identifiers
_CHUNK = 1 << 20
_STATE_VERSION = 1
Progress = Callable[[int], None]  # called with the number of files spooled so far


class SourceUnreachable(Exception):
    """The server cannot be used for the rest of this run (down, refusing, bad credentials)."""


class _Failed(Exception):
    """One request failed for good (after retries, or with a non-retryable status)."""


class _Gone(Exception):
    """The resource no longer exists on the server (HTTP 404)."""


class _LocalError(Exception):
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
    cursor: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Return the result as plain JSON values."""
        return asdict(self)


@dataclass(slots=True)
class _State:
    url: str = ""
    cursor: int = 0
    failed: dict[str, dict[str, Any]] = field(default_factory=dict)


def spool_dir(spool_root: Path, source: OrthancSource) -> Path:
    """The folder a source's files are spooled to (the folder the indexer reads)."""
    return spool_root / source.name


def pull(source: OrthancSource, spool_root: str | Path, *, progress: Progress | None = None,
         password: str = "") -> PullResult:
    """Download every instance the server received since the last pull.

    Args:
        source: the server and its retry policy.
        spool_root: folder holding every source's spool and state.
        progress: called after each file is spooled, with the count so far.
        password: the basic-auth password (see :meth:`OrthancSource.password`).

    Returns:
        Counts, the retry list's length and, if the pull stopped early, why.

    Raises:
        StorageError: the spool cannot be written (disk full, permissions).

    """
    started = time.monotonic()
    puller = _Puller(source, Path(spool_root), password, progress)
    try:
        try:
            puller.run()
        finally:
            puller.save()
    except SourceUnreachable as exc:
        puller.result.unreachable = str(exc)
        log.warning("source %s: unreachable, pull stopped: %s", source.name, exc)
    except (OSError, _LocalError) as exc:
        error = exc.error if isinstance(exc, _LocalError) else exc
        raise StorageError(f"cannot write the spool of source {source.name!r} under "
                           f"{str(spool_root)!r}: {error.strerror or error}; free space and "
                           "rerun (nothing fetched so far is lost)") from None
    result = puller.result
    result.pending, result.cursor = len(puller.state.failed), puller.state.cursor
    result.seconds = round(time.monotonic() - started, 3)
    return result


class _Puller:
    """One pull: the state, the client and the files touched since the last state save."""

    def __init__(self, source: OrthancSource, root: Path, password: str,
                 progress: Progress | None) -> None:
        self.source, self.root, self.progress = source, root, progress
        self.client = _Client(source, password)
        self.files = spool_dir(root, source)
        self.partial = root / ".partial"
        self.state_path = root / f"{source.name}.state.json"
        self.result = PullResult(source.name)
        self.touched: set[Path] = set()
        self.in_a_row = 0
        self.loaded = False
        self.state = _State()

    def run(self) -> None:
        private_folder(self.partial)  # spooled files hold patient data: folders 700
        private_folder(self.files)
        for stale in self.partial.iterdir():
            stale.unlink()
        self.state = _load_state(self.state_path)
        self.loaded = True
        if self.state.url != self.client.base:
            if self.state.url:
                log.warning("source %s: url changed; reading its change log from the start "
                            "(spooled files are not fetched again)", self.source.name)
            self.state = _State(url=self.client.base, failed=self.state.failed)
        self._retry_failed()
        self._follow_changes()

    def _retry_failed(self) -> None:
        for iid in list(self.state.failed):
            outcome = self._fetch(iid)
            if outcome in ("fetched", "already", "gone"):
                del self.state.failed[iid]
                self.result.retried += outcome != "gone"
        self.save()

    def _follow_changes(self) -> None:
        last = int(self.client.get_json("/changes?last").get("Last", 0))
        if self.state.cursor > last:
            log.warning("source %s: server change log restarted (cursor %d > last %d); "
                        "reading it from the start", self.source.name, self.state.cursor, last)
            self.state.cursor = 0
        while True:
            page = self.client.get_json(
                f"/changes?since={self.state.cursor}&limit={self.source.page_size}")
            changes = page.get("Changes") or []
            for change in changes:
                if change.get("ChangeType") == "NewInstance":
                    self._handle(str(change.get("ID", "")), int(change["Seq"]))
                self.state.cursor = int(change["Seq"])
            self.save()
            if page.get("Done", True) or not changes:
                return

    def _handle(self, iid: str, seq: int) -> None:
        outcome = self._fetch(iid)
        if outcome == "failed":
            self.state.failed[iid] = {**self.state.failed.get(iid, {}), "seq": seq}

    def _fetch(self, iid: str) -> str:
        """Fetch one instance; return fetched, already, gone or failed (and record why)."""
        if not _ID.match(iid):
            log.warning("source %s: ignoring a change with a malformed instance id",
                        self.source.name)
            return "gone"
        target = self.files / iid[:2] / f"{iid}.dcm"
        if target.exists():
            self.result.already += 1
            return "already"
        try:
            size = self.client.download(f"/instances/{iid}/file", self.partial / f"{iid}.part")
        except _Gone:
            self.result.gone += 1
            return "gone"
        except _Failed as exc:
            entry = self.state.failed.setdefault(iid, {"attempts": 0})
            entry.update(attempts=entry.get("attempts", 0) + 1, error=str(exc))
            self.in_a_row += 1
            if self.in_a_row >= self.source.max_failures:
                raise SourceUnreachable(f"{self.in_a_row} downloads failed in a row "
                                        f"(last: {exc})") from None
            return "failed"
        self.in_a_row = 0
        private_folder(target.parent)
        os.replace(self.partial / f"{iid}.part", target)
        self.touched.add(target.parent)
        self.result.fetched += 1
        self.result.bytes += size
        if self.progress:
            self.progress(self.result.fetched)
        return "fetched"

    def save(self) -> None:
        """Make the spooled files durable, then the state that covers them."""
        if not self.loaded:
            return
        for folder in sorted(self.touched):
            _fsync_dir(folder)
        self.touched.clear()
        _save_state(self.state_path, self.state)


def _load_state(path: Path) -> _State:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _State()
    except (ValueError, OSError) as exc:
        raise StorageError(f"state file {str(path)!r} is unreadable ({exc}); restore it, or "
                           "delete it to read the server's change log from the start") from None
    return _State(url=str(doc.get("url", "")), cursor=int(doc.get("cursor", 0)),
                  failed=dict(doc.get("failed", {})))


def _save_state(path: Path, state: _State) -> None:
    """Write the state through a temporary file, fsync and rename: old or new, never half."""
    doc = {"version": _STATE_VERSION, "url": state.url, "cursor": state.cursor,
           "failed": state.failed, "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", opener=private_opener) as fh:
        json.dump(doc, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Client:
    """A tiny Orthanc REST client: timeouts, bounded retries with backoff, basic auth."""

    def __init__(self, source: OrthancSource, password: str) -> None:
        self.source = source
        self.base = source.url.rstrip("/")
        self.headers = {"Accept": "*/*", "User-Agent": "dedup"}
        if source.username:
            token = base64.b64encode(f"{source.username}:{password}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"

    def get_json(self, path: str) -> dict[str, Any]:
        """GET a JSON document.

        Raises:
            SourceUnreachable: the request failed after every retry.

        """
        try:
            body = self._with_retries(path, lambda response: response.read())
            return dict(json.loads(body))
        except (_Failed, _Gone, ValueError, TypeError) as exc:
            raise SourceUnreachable(f"GET {path.split('?')[0]} failed: {exc}") from None

    def download(self, path: str, dest: Path) -> int:
        """Stream a file to ``dest`` (fsynced) and return its size.

        Raises:
            _Gone: HTTP 404.
            _Failed: the request failed after every retry.
            SourceUnreachable: the server refuses our credentials.
            OSError: ``dest`` cannot be written.

        """
        def save(response: http.client.HTTPResponse) -> int:
            with _local(partial(open, dest, "wb", opener=private_opener)) as fh:
                size = 0
                while chunk := response.read(_CHUNK):
                    _local(fh.write, chunk)
                    size += len(chunk)
                expected = response.headers.get("Content-Length")
                if expected is not None and int(expected) != size:
                    raise http.client.IncompleteRead(b"", int(expected) - size)
                _local(fh.flush)
                _local(os.fsync, fh.fileno())
            return size
        return int(self._with_retries(path, save))

    def _with_retries(self, path: str, handle: Callable[[Any], Any]) -> Any:
        error = ""
        for attempt, delay in enumerate(_delays(self.source)):
            if attempt:
                time.sleep(delay)
            request = urllib.request.Request(self.base + path, headers=self.headers)
            try:
                with urllib.request.urlopen(request, timeout=self.source.timeout) as response:
                    return handle(response)
            except urllib.error.HTTPError as exc:
                error = _http_error(exc)
            except OSError as exc:  # URLError, timeouts, resets: the network
                error = _network_error(exc)
            except http.client.HTTPException as exc:
                error = f"broken response ({type(exc).__name__})"
        raise _Failed(f"{error} after {self.source.retries} attempts")


def _http_error(exc: urllib.error.HTTPError) -> str:
    """Return a retryable error's text, or raise the outcome of a final one."""
    exc.close()
    if exc.code == 404:
        raise _Gone("HTTP 404") from None
    if exc.code in (401, 403):
        raise SourceUnreachable(f"HTTP {exc.code}: check username and password_env") from None
    if exc.code in (408, 429) or exc.code >= 500:
        return f"HTTP {exc.code}"
    raise _Failed(f"HTTP {exc.code}") from None


def _network_error(exc: OSError) -> str:
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, TimeoutError) or isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    return f"network error ({type(reason).__name__})"


def _local(function: Callable[..., Any], *args: Any) -> Any:
    """Call a local file operation; its OSError becomes a :class:`_LocalError`."""
    try:
        return function(*args)
    except OSError as exc:
        raise _LocalError(exc) from exc


def _delays(source: OrthancSource) -> Iterator[float]:
    """One delay per attempt: 0, then backoff x 2^k with jitter, capped at backoff_max."""
    for attempt in range(source.retries):
        base = min(source.backoff * 2 ** (attempt - 1), source.backoff_max) if attempt else 0
        yield base * random.uniform(0.5, 1.0)
