"""Keep the check index current: pick up each published generation without a restart.

:class:`IndexHolder` builds the first index in the calling process (nothing is being served
yet). A server then starts (:meth:`~IndexHolder.start`) a thread that polls the published link;
when the batch has published a new generation, the index is built in a separate process at low CPU
priority (a child Python running :func:`_build_to`), written to memory-mapped files
in a scratch folder (``/dev/shm`` when there is one), mapped into the server and swapped in
with one assignment. Requests keep using the previous index meanwhile and never wait on the
build: a build in a thread of the server would compete with them for the interpreter lock,
and a low-priority thread holding that lock stalls every request.

A build that fails leaves the previous generation in service, and says so:
:meth:`IndexHolder.health` (the service's ``/healthz``) reports the served generation as
stale, which generation failed and why, and when the next attempt is due. Failed builds are
retried with exponential backoff (from ``reload_seconds`` up to :data:`MAX_BACKOFF_SECONDS`);
a newer generation is tried at once.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from dedup.archive.db import Archive
from dedup.archive.publish import PublishedReader, published_path
from dedup.check.prior_index import PriorIndex, build_index, load_index, save_index
from dedup.errors import ArchiveError, DedupError

log = logging.getLogger("dedup.check")
_NICE = 10
#: The longest wait between two attempts to index a generation whose build failed.
MAX_BACKOFF_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class BuildFailure:
    """The newest published generation could not be indexed (yet).

    Attributes:
        target: the generation's file (the published link's target).
        reason: the error's type, and its message for dedup's own errors (no patient data:
            ``/healthz`` is public).
        since: when it first failed (seconds since the epoch).
        attempts: failed attempts so far.
        retry_at: when the next attempt is due (``time.monotonic()`` clock).

    """

    target: str
    reason: str
    since: float
    attempts: int
    retry_at: float


class IndexHolder:
    """The current :class:`PriorIndex` of an archive's published snapshot.

    Args:
        archive_path: the archive; only its published snapshot is read.
        reload_seconds: how often the background thread looks for a new generation.

    """

    def __init__(self, archive_path: str | Path, reload_seconds: float = 1.0) -> None:
        self.archive_path = str(archive_path)
        self.reload_seconds = reload_seconds
        self._link = published_path(archive_path)
        self._index: PriorIndex | None = None
        self._target = ""
        self._build_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure: BuildFailure | None = None

    def current(self) -> PriorIndex:
        """The index in use (built now if there is none yet and no thread is running).

        Raises:
            ArchiveError: nothing has been published yet, or (with the background thread
                running) the first index is still being built.

        """
        index = self._index
        if index is None:
            if self._thread is not None:  # a server never builds inside a request
                failure = self._failure
                why = (f"the first build failed ({failure.reason}) and is retried"
                       if failure else "nothing published, or the first build is running")
                raise ArchiveError(f"the check index is not ready yet ({why}); retry shortly")
            self.refresh()
            index = self._index
            assert index is not None
        return index

    def refresh(self) -> bool:
        """Build and swap in the index of the newest generation if it changed.

        Returns:
            Whether a new index was swapped in.

        Raises:
            ArchiveError: nothing has been published yet.
            Exception: the build failed (whatever it raised); :meth:`health` reports it
                until a build succeeds.

        """
        with self._build_lock:
            target = os.path.realpath(self._link)
            if target == self._target and self._index is not None:
                return False
            if not os.path.exists(target):
                raise ArchiveError(f"no published archive at {str(self._link)!r} yet; run "
                                   "`dedup index` (it publishes when it finishes)")
            started = time.monotonic()
            try:
                index = self._build_elsewhere(target) if self._thread else self._build_here()
            except Exception as exc:
                self._failed(target, exc)
                raise
            self._index, self._target, self._failure = index, target, None
            # Long-lived objects leave the collector's view: a full collection over them
            # would stall every request for tens of milliseconds.
            gc.freeze()
        log.info("check index: generation %s, %d patients, %d studies, built in %.1f s",
                 index.generation, index.patients, index.studies, time.monotonic() - started)
        return True

    def _failed(self, target: str, exc: Exception) -> None:
        """Record a failed build of ``target`` and when to try it again."""
        reason = _reason(exc)
        previous = self._failure if self._failure and self._failure.target == target else None
        attempts = previous.attempts + 1 if previous else 1
        delay = min(MAX_BACKOFF_SECONDS, self.reload_seconds * 2 ** min(attempts, 30))
        self._failure = BuildFailure(target, reason, previous.since if previous else time.time(),
                                     attempts, time.monotonic() + delay)
        served = self._index.generation if self._index else "none"
        log.error("check index: building generation %s failed (%s, attempt %d); serving "
                  "generation %s; next attempt in %.1f s", Path(target).name, _logged(exc),
                  attempts, served, delay)

    def health(self) -> dict[str, Any]:
        """The state of the index, for ``/healthz`` (no patient data).

        Returns:
            ``status``: ``ok`` (the newest generation built is served), ``stale`` (a newer
            generation failed to build; the previous one is served), ``starting`` (nothing
            built yet) or ``failing`` (nothing built, and the build fails). With an index:
            ``generation`` and ``built_at``; after a failure: ``failed_generation``,
            ``reason``, ``failing_since``, ``attempts`` and ``retry_in_seconds``.

        """
        index, failure = self._index, self._failure
        out: dict[str, Any] = {"status": "ok" if index else "starting"}
        if index is not None:
            out |= {"generation": index.generation, "built_at": index.built_at}
        if failure is not None:
            out |= {"status": "stale" if index else "failing",
                    "failed_generation": Path(failure.target).name, "reason": failure.reason,
                    "failing_since": failure.since, "attempts": failure.attempts,
                    "retry_in_seconds": round(max(0.0, failure.retry_at - time.monotonic()),
                                              1)}
        return out

    def _due(self) -> bool:
        """Whether to look for a new generation now (a failed one waits for its backoff)."""
        failure = self._failure
        return (failure is None or time.monotonic() >= failure.retry_at
                or os.path.realpath(self._link) != failure.target)

    def born_on(self, birth_date: date) -> PriorIndex:
        """An index of only the records born on ``birth_date``, read now (a one-off check).

        It neither uses nor replaces the current index, so a single check does not load the
        whole archive.

        Raises:
            ArchiveError: nothing has been published yet.

        """
        return self._build_here(birth_date)

    def _build_here(self, birth_date: date | None = None) -> PriorIndex:
        reader = PublishedReader(self.archive_path)
        try:
            return build_index(reader.archive(), birth_date)
        finally:
            reader.close()

    def _build_elsewhere(self, target: str) -> PriorIndex:
        scratch = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        folder = tempfile.mkdtemp(prefix="dedup-check-index-", dir=scratch)
        try:
            # The build's stdin is a pipe nobody writes to: when this process ends, however
            # it ends (kill -9 too), the build reads end-of-file and exits.
            with subprocess.Popen([sys.executable, "-c", _BUILD, target, folder],
                                  stdin=subprocess.PIPE) as build:
                try:
                    returncode = build.wait(timeout=3600)
                except subprocess.TimeoutExpired:
                    build.kill()
                    raise
            if returncode:
                failure = Path(folder, _FAILURE)
                raise IndexBuildError(failure.read_text() if failure.exists()
                                      else f"the build process exited with {returncode}")
            return load_index(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # mapped files stay valid

    def start(self) -> None:
        """Start the background thread that picks up new generations."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._poll, name="dedup-index", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the background thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _poll(self) -> None:
        while not self._stop.wait(self.reload_seconds):
            if not self._due():
                continue
            try:
                self.refresh()
            except ArchiveError as exc:
                log.warning("check index not refreshed: %s", exc)
            except Exception:  # recorded by refresh, reported by health(), retried later
                pass  # keep serving the previous generation whatever happens


class IndexBuildError(Exception):
    """The separate build process failed; the message is its reason (an error type)."""


def _reason(exc: BaseException) -> str:
    """Why a build failed, fit for a public health check: the error's type only."""
    if isinstance(exc, IndexBuildError):
        return str(exc)
    if isinstance(exc, subprocess.TimeoutExpired):
        return "TimeoutExpired"
    return type(exc).__name__


def _logged(exc: BaseException) -> str:
    """Why a build failed, for the service log.

    Dedup's own errors say it in words (they never quote patient data); any other error by
    its type (its message might).
    """
    return f"{_reason(exc)}: {exc}" if isinstance(exc, DedupError) else _reason(exc)


def _build_to(snapshot: str, folder: str) -> None:
    """The separate build: read one snapshot generation, write the index to ``folder``.

    On failure it writes the reason to ``folder/failure.txt`` and the stack to stderr
    (without the message of an error not dedup's own: it could quote a value), then exits 1.
    """
    os.nice(_NICE)
    threading.Thread(target=_exit_at_end_of_input, args=(folder,),
                     name="dedup-die-with-server", daemon=True).start()
    try:
        with Archive.open(snapshot, read_only=True) as archive:
            save_index(build_index(archive, threads=1), folder)
    except Exception as exc:
        Path(folder, _FAILURE).write_text(_reason(exc))
        sys.stderr.write("check index build failed:\n" + "".join(traceback.format_tb(
            exc.__traceback__)) + _logged(exc) + "\n")
        sys.exit(1)


_FAILURE = "failure.txt"


def _exit_at_end_of_input(folder: str) -> None:
    """End the build, and remove its scratch folder, when the server is gone.

    The server's end of the stdin pipe closes when it ends. The descriptor is read directly:
    a daemon thread blocked inside ``sys.stdin`` would hold its lock and abort the
    interpreter's shutdown after a normal build.
    """
    while os.read(0, 4096):
        pass
    shutil.rmtree(folder, ignore_errors=True)
    os._exit(1)


#: The separate build's program (``-c``, not ``-m``: the package already imports this module).
_BUILD = "import sys; from dedup.check.holder import _build_to; _build_to(*sys.argv[1:3])"
