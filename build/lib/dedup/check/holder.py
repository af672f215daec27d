"""Keep the check index current: pick up each published generation without a restart.

:class:`IndexHolder` builds the first index in the calling process (nothing is being served
yet). A server then starts (:meth:`~IndexHolder.start`) a thread that polls the published link;
when the batch has published a new generation, the index is built in a separate process at low CPU
priority (a child Python running :func:`_build_to`), written to memory-mapped files
in a scratch folder (``/dev/shm`` when there is one), mapped into the server and swapped in
with one assignment. Requests keep using the previous index meanwhile and never wait on the
build: a build in a thread of the server would compete with them for the interpreter lock,
and a low-priority thread holding that lock stalls every request.
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
from datetime import date
from pathlib import Path

from dedup.archive.db import Archive
from dedup.archive.publish import PublishedReader, published_path
from dedup.check.prior_index import PriorIndex, build_index, load_index, save_index
from dedup.errors import ArchiveError

log = logging.getLogger("dedup.check")
_NICE = 10


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

    def current(self) -> PriorIndex:
        """The index in use (built now if there is none yet and no thread is running).

        Raises:
            ArchiveError: nothing has been published yet, or (with the background thread
                running) the first index is still being built.

        """
        index = self._index
        if index is None:
            if self._thread is not None:  # a server never builds inside a request
                raise ArchiveError("the check index is not ready yet (nothing published, or "
                                   "the first build is running); retry shortly")
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
            subprocess.CalledProcessError: the separate build failed.

        """
        with self._build_lock:
            target = os.path.realpath(self._link)
            if target == self._target and self._index is not None:
                return False
            if not os.path.exists(target):
                raise ArchiveError(f"no published archive at {str(self._link)!r} yet; run "
                                   "`dedup index` (it publishes when it finishes)")
            started = time.monotonic()
            index = self._build_elsewhere(target) if self._thread else self._build_here()
            self._index, self._target = index, target
            # Long-lived objects leave the collector's view: a full collection over them
            # would stall every request for tens of milliseconds.
            gc.freeze()
        log.info("check index: generation %s, %d patients, %d studies, built in %.1f s",
                 index.generation, index.patients, index.studies, time.monotonic() - started)
        return True

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
            subprocess.run([sys.executable, "-c", _BUILD, target, folder],
                           check=True, stdin=subprocess.DEVNULL, timeout=3600)
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
            try:
                self.refresh()
            except ArchiveError as exc:
                log.warning("check index not refreshed: %s", exc)
            except Exception as exc:  # keep serving the previous generation whatever happens
                log.error("check index build failed (%s); serving the previous generation",
                          type(exc).__name__)


def _build_to(snapshot: str, folder: str) -> None:
    """The separate build: read one snapshot generation, write the index to ``folder``."""
    os.nice(_NICE)
    with Archive.open(snapshot, read_only=True) as archive:
        save_index(build_index(archive, threads=1), folder)


#: The separate build's program (``-c``, not ``-m``: the package already imports this module).
_BUILD = "import sys; from dedup.check.holder import _build_to; _build_to(*sys.argv[1:3])"
