"""Pull new instances from a DICOMweb server into the spool: QIDO-RS to list, WADO-RS to fetch.

QIDO-RS cannot ask "what arrived since": it searches attributes, and the only date every study
carries is its StudyDate. So each pull

1. lists the studies (``GET {qido}/studies``, paged with ``limit``/``offset``) whose StudyDate
   is on or after the high-water mark minus ``overlap_days`` (the first pull: ``since``, or every
   study), asking for NumberOfStudyRelatedInstances;
2. skips a study whose instance count equals the count recorded when it was last pulled (no
   further request); for any other study it lists the instances (``GET
   {qido}/studies/{uid}/instances``) and fetches each one not yet in the spool with WADO-RS
   (``GET {wado}/studies/{uid}/series/{uid}/instances/{uid}``, ``Accept: multipart/related;
   type="application/dicom"; transfer-syntax=*``: the stored Part 10 bytes, written unchanged);
3. handles studies in (StudyDate, StudyInstanceUID) order, so no server-side sorting is needed,
   and moves the high-water mark (never past today) only over studies it has handled.

Files are spooled as ``<spool root>/<source>/<h>/<StudyInstanceUID>/<SOPInstanceUID>.dcm``
(``h``: two hex digits of the study UID's SHA-1). The state file holds the high-water mark (the
cursor), each listed study's date and instance count (the marks, for the studies of the overlap
window) and the retry list; durability, retries, the retry list and the spool limit are
:mod:`dedup.ingest.spool`'s. A study that arrives with a StudyDate older than the window is not
seen: widen ``overlap_days`` (docs/sources.md).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import requests
from dicomweb_client.api import DICOMwebClient
from dicomweb_client.web import _Transaction

from dedup.config.dicomweb import DicomwebSource
from dedup.ingest import spool as _spool
from dedup.ingest.spool import FetchFailed, Gone, PullResult, SourceUnreachable, Spool

log = logging.getLogger("dedup.dicomweb")

__all__ = ["pull", "spool_dir"]

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_STUDY, _SERIES, _SOP, _DATE, _COUNT = "0020000D", "0020000E", "00080018", "00080020", "00201208"
_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'
_AUTH_HINT = "username and password_env/password_file, or token_env/token_file"
Study = tuple[str, str, int | None]  # StudyDate (may be empty), StudyInstanceUID, count


def spool_dir(spool_root: Path, source: DicomwebSource) -> Path:
    """The folder a source's files are spooled to (the folder the indexer reads)."""
    return _spool.spool_dir(spool_root, source.name)


def pull(source: DicomwebSource, spool_root: str | Path, *,
         progress: _spool.Progress | None = None, environ: Mapping[str, str] | None = None,
         today: date | None = None) -> PullResult:
    """Download every instance of the studies that are new or grew since the last pull.

    Args:
        source: the server, its credentials and its retry policy.
        spool_root: folder holding every source's spool and state.
        progress: called after each file is spooled, with the count so far.
        environ: where ``password_env``/``token_env`` are read (default ``os.environ``).
        today: the date the high-water mark may not pass (default: today).

    Returns:
        Counts, the retry list's length, the high-water StudyDate (``cursor``) and, if the
        pull stopped early, why.

    Raises:
        StorageError: the spool cannot be written (disk full, permissions).

    """
    spool = Spool(Path(spool_root), source.name, source, limit_mb=source.spool_limit_mb,
                  progress=progress)
    puller = _Puller(source, spool, environ, (today or date.today()).strftime("%Y%m%d"))
    return _spool.run_pull(spool, puller.run)


class _Puller:
    """One pull: the spool and its state, the client, and the day the mark may not pass."""

    def __init__(self, source: DicomwebSource, spool: Spool,
                 environ: Mapping[str, str] | None, today: str) -> None:
        self.source, self.spool, self.environ, self.today = source, spool, environ, today
        self.client: _Client | None = None

    def run(self) -> None:
        try:
            headers = self.source.authorization(self.environ)
        except OSError as exc:
            raise SourceUnreachable(f"cannot read the credentials file: {exc.strerror}") from None
        self.client = _Client(self.source, headers)
        self.spool.open(self.client.root, "listing its studies from the start")
        self.spool.retry_failed(self._retry)
        start = self._window_start()
        studies = sorted(self.client.studies(start), key=lambda study: study[:2])
        marks = self.spool.state.marks
        for uid in [u for u, (day, _) in marks.items() if start and day < start]:
            del marks[uid]  # out of the window: never listed again
        for n, study in enumerate(studies, 1):
            self._study(study)
            if n % self.source.page_size == 0:
                self.spool.save()

    def _window_start(self) -> str:
        mark = str(self.spool.state.cursor or "")
        try:
            day = date(int(mark[:4]), int(mark[4:6]), int(mark[6:]))
        except ValueError:  # no mark yet (or not a date): from ``since``
            return self.source.since
        return (day - timedelta(days=self.source.overlap_days)).strftime("%Y%m%d")

    def _study(self, study: Study) -> None:
        day, uid, count = study
        mark = self.spool.state.marks.get(uid)
        if count is None or mark != [day, count]:
            if self._instances(uid) == "failed":
                return
            self.spool.state.marks[uid] = [day, count]
        if day and day > str(self.spool.state.cursor or ""):
            self.spool.state.cursor = min(day, self.today)

    def _instances(self, study: str) -> str:
        """Fetch every instance of ``study`` not yet spooled; failed if it cannot be listed."""
        assert self.client is not None
        try:
            instances = list(self.client.instances(study))
        except Gone:
            return "gone"
        except FetchFailed as exc:
            self.spool.fail(study, exc)
            return "failed"
        self.spool.in_a_row = 0
        for series, sop in instances:
            self._fetch(study, series, sop)
        return "fetched"

    def _retry(self, key: str) -> str:
        parts = key.split("/")
        return self._fetch(*parts) if len(parts) == 3 else self._instances(key)

    def _fetch(self, study: str, series: str, sop: str) -> str:
        """Fetch one instance; fetched, already, gone or failed (listed as study/series/sop)."""
        assert self.client is not None
        if not all(_UID.match(uid) and len(uid) <= 64 for uid in (study, series, sop)):
            log.warning("source %s: ignoring an instance with a malformed UID", self.source.name)
            return "gone"
        shard = hashlib.sha1(study.encode()).hexdigest()[:2]
        target = self.spool.files / shard / study / f"{sop}.dcm"
        client = self.client
        return self.spool.fetch(f"{study}/{series}/{sop}", target,
                                lambda dest: client.download(study, series, sop, dest))


class _Client:
    """dicomweb-client with our timeouts, retries with backoff, credentials and raw downloads.

    dicomweb-client's own retries are switched off: :func:`dedup.ingest.spool.with_retries`
    retries every request the way every PACS source does.
    """

    def __init__(self, source: DicomwebSource, headers: dict[str, str]) -> None:
        self.source = source
        self.root = source.url.rstrip("/")
        session = requests.Session()
        # identity: servers gzip on request (requests asks by default), which costs Orthanc
        # ~15 ms of CPU per 130 kB instance and saves little on pixel data
        session.headers.update({"User-Agent": "dedup", "Accept-Encoding": "identity", **headers})
        self.web = DICOMwebClient(self.root, session=session, timeout=source.timeout,
                                  qido_url_prefix=source.qido_prefix or None,
                                  wado_url_prefix=source.wado_prefix or None)
        self.web.set_http_retry_params(retry=False)

    def studies(self, start: str) -> Iterator[Study]:
        """Every study with a StudyDate on or after ``start`` (every study if empty).

        Raises:
            SourceUnreachable: a page could not be listed.

        """
        filters = {"StudyDate": f"{start}-"} if start else {}
        try:
            for found in self._pages(lambda limit, offset: self.web.search_for_studies(
                    search_filters=filters, fields=["NumberOfStudyRelatedInstances"],
                    limit=limit, offset=offset)):
                uid, day, count = (_value(found, tag) for tag in (_STUDY, _DATE, _COUNT))
                if uid:
                    yield str(day or ""), str(uid), int(count) if count is not None else None
        except (FetchFailed, Gone) as exc:
            raise SourceUnreachable(f"QIDO-RS search for studies failed: {exc}") from None

    def instances(self, study: str) -> Iterator[tuple[str, str]]:
        """(SeriesInstanceUID, SOPInstanceUID) of every instance of ``study``.

        Raises:
            Gone: the study no longer exists.
            FetchFailed: a page could not be listed after every retry.

        """
        for found in self._pages(lambda limit, offset: self.web.search_for_instances(
                study_instance_uid=study, limit=limit, offset=offset)):
            series, sop = _value(found, _SERIES), _value(found, _SOP)
            if series and sop:
                yield str(series), str(sop)

    def download(self, study: str, series: str, sop: str, dest: Path) -> int:
        """WADO-RS one instance to ``dest`` as the server stores it; return its size.

        dicomweb-client's ``retrieve_instance`` returns a parsed dataset, and writing that
        back would not give the server's bytes; so this asks for any transfer syntax and keeps
        the multipart body part as it came, through the client's own URL and part decoding.

        Raises:
            Gone: HTTP 404.
            FetchFailed: the request failed after every retry, or the answer is no Part 10 file.
            SourceUnreachable: the server refuses our credentials.
            LocalError: ``dest`` cannot be written.

        """
        url = self.web._get_instances_url(_Transaction.RETRIEVE, study, series, sop)

        def attempt() -> bytes:
            response = self.web._http_get(url, headers={"Accept": _ACCEPT}, stream=True)
            if response.headers.get("Content-Type", "").startswith("application/dicom"):
                return bytes(response.content)  # a server that does not wrap the part
            return bytes(next(iter(self.web._decode_multipart_message(response, stream=True))))

        body = _spool.with_retries(attempt, self.source, _describe,
                                   (OSError, ValueError, StopIteration))
        if body[128:132] != b"DICM":
            raise FetchFailed("the answer is not a DICOM Part 10 file")
        return _spool.write_file(dest, [body])

    def _pages(self, search: Any) -> Iterator[dict[str, Any]]:
        """Every result of a QIDO-RS search, ``page_size`` at a time, until a page is empty."""
        offset = 0
        while True:
            page = _spool.with_retries(partial(search, self.source.page_size, offset),
                                       self.source, _describe, (OSError, ValueError))
            if not page:
                return
            yield from page
            offset += len(page)


def _value(found: dict[str, Any], tag: str) -> Any:
    values = (found.get(tag) or {}).get("Value") or [None]
    return values[0]


def _describe(exc: Exception) -> str:
    """A retryable error's text; raises the outcome of a final one."""
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return _spool.status_error(exc.response.status_code, _AUTH_HINT)
    if isinstance(exc, OSError):  # requests' errors: connection, timeouts, broken bodies
        return _spool.network_error(exc)
    return f"broken response ({type(exc).__name__})"
