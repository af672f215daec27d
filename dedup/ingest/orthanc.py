"""Pull new instances from an Orthanc PACS into a local spool folder, incrementally.

Orthanc numbers every change (``GET /changes?since=N``). For each ``NewInstance`` change the
file is downloaded from ``/instances/{id}/file`` into the spool::

    <spool root>/<source>/<id[:2]>/<id>.dcm       indexed like any folder source
    <spool root>/<source>.state.json              cursor and items to retry
    <spool root>/.partial/                        downloads in progress

Durability and faults are :mod:`dedup.ingest.spool`'s: the state (the last change handled, and
the instances that could not be fetched) is saved only after the files of every change it
covers are durable, so a crash or ``kill -9`` never moves the cursor past an instance that is
neither in the spool nor on the retry list. A crashed run redoes at most one page of changes,
skipping files already spooled. Every request has a timeout and is retried with bounded
exponential backoff; after ``max_failures`` failed downloads in a row the pull stops.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from dedup.config.file import OrthancSource
from dedup.ingest import spool as _spool
from dedup.ingest.spool import (
    FetchFailed,
    Gone,
    Progress,
    PullResult,
    SourceUnreachable,
    Spool,
    network_error,
    run_pull,
    status_error,
    with_retries,
)

log = logging.getLogger("dedup.orthanc")

__all__ = ["PullResult", "SourceUnreachable", "pull", "spool_dir"]

_ID = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{8}){4}$")  # Orthanc's SHA-1 based identifiers
_CHUNK = 1 << 20


def spool_dir(spool_root: Path, source: OrthancSource) -> Path:
    """The folder a source's files are spooled to (the folder the indexer reads)."""
    return _spool.spool_dir(spool_root, source.name)


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
    puller = _Puller(source, Spool(Path(spool_root), source.name, source, progress=progress),
                     password)
    return run_pull(puller.spool, puller.run)


class _Puller:
    """One pull: the spool and its state, and the client."""

    def __init__(self, source: OrthancSource, spool: Spool, password: str) -> None:
        self.source, self.spool = source, spool
        self.client = _Client(source, password)

    def run(self) -> None:
        self.spool.open(self.client.base, "reading its change log from the start")
        self.spool.retry_failed(self._fetch)
        self._follow_changes()

    def _follow_changes(self) -> None:
        state = self.spool.state
        last = int(self.client.get_json("/changes?last").get("Last", 0))
        if int(state.cursor) > last:
            log.warning("source %s: server change log restarted (cursor %s > last %d); "
                        "reading it from the start", self.source.name, state.cursor, last)
            state.cursor = 0
        while True:
            page = self.client.get_json(
                f"/changes?since={state.cursor}&limit={self.source.page_size}")
            changes = page.get("Changes") or []
            for change in changes:
                if change.get("ChangeType") == "NewInstance":
                    self._handle(str(change.get("ID", "")), int(change["Seq"]))
                state.cursor = int(change["Seq"])
            self.spool.save()
            if page.get("Done", True) or not changes:
                return

    def _handle(self, iid: str, seq: int) -> None:
        if self._fetch(iid) == "failed":
            self.spool.state.failed[iid]["seq"] = seq

    def _fetch(self, iid: str) -> str:
        """Fetch one instance; return fetched, already, gone or failed (and record why)."""
        if not _ID.match(iid):
            log.warning("source %s: ignoring a change with a malformed instance id",
                        self.source.name)
            return "gone"
        target = self.spool.files / iid[:2] / f"{iid}.dcm"
        return self.spool.fetch(iid, target,
                                partial(self.client.download, f"/instances/{iid}/file"))


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
        except (FetchFailed, Gone, ValueError, TypeError) as exc:
            raise SourceUnreachable(f"GET {path.split('?')[0]} failed: {exc}") from None

    def download(self, path: str, dest: Path) -> int:
        """Stream a file to ``dest`` (fsynced) and return its size.

        Raises:
            Gone: HTTP 404.
            FetchFailed: the request failed after every retry.
            SourceUnreachable: the server refuses our credentials.
            LocalError: ``dest`` cannot be written.

        """
        def save(response: http.client.HTTPResponse) -> int:
            size = _spool.write_file(dest, iter(partial(response.read, _CHUNK), b""))
            expected = response.headers.get("Content-Length")
            if expected is not None and int(expected) != size:
                raise http.client.IncompleteRead(b"", int(expected) - size)
            return size
        return int(self._with_retries(path, save))

    def _with_retries(self, path: str, handle: Callable[[Any], Any]) -> Any:
        def attempt() -> Any:
            request = urllib.request.Request(self.base + path, headers=self.headers)
            with urllib.request.urlopen(request, timeout=self.source.timeout) as response:
                return handle(response)
        return with_retries(attempt, self.source, _describe, (OSError, http.client.HTTPException))


def _describe(exc: Exception) -> str:
    """A retryable error's text; raises the outcome of a final one."""
    if isinstance(exc, urllib.error.HTTPError):
        exc.close()
        return status_error(exc.code, "username and password_env")
    if isinstance(exc, OSError):  # URLError, timeouts, resets: the network
        return network_error(exc)
    return f"broken response ({type(exc).__name__})"
