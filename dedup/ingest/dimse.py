"""Pull new studies from a PACS over DIMSE: C-FIND by study date, then C-GET into the spool.

Each run asks the PACS (C-FIND, study level) for the studies dated from the high-water mark
less ``overlap_days`` on, with their instance counts, and retrieves (C-GET, study level) each
study whose count differs from the count already retrieved. Spool layout, shared with the
other PACS sources::

    <spool root>/<source>/<study>/<instance>.dcm   digests of the UIDs; indexed like a folder
    <spool root>/<source>.state.json               high-water mark, counts per study
    <spool root>/.partial/                         writes in progress

Durability: every instance is written under ``.partial``, fsynced and renamed
(:func:`dedup.ingest.storescp.write_durably`) before the C-GET sub-operation is answered
success; the state is rewritten the same way after the run. The mark moves to today only
when every study was retrieved; otherwise to the date of the earliest study that failed, so
the next run asks for it again.

Faults: every association and answer has a timeout. A study that fails is counted as
pending and asked for again next run; after ``max_failures`` failures in a row the PACS
counts as unreachable and the pull stops.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import AE, StoragePresentationContexts, build_role, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
)

from dedup.config.dimse import DimseSource
from dedup.errors import StorageError
from dedup.ingest.spool import PullResult, SourceUnreachable, State, load_state, save_state
from dedup.ingest.storescp import uid_digest, write_durably
from dedup.private import private_folder

log = logging.getLogger("dedup.dimse")

_PENDING = (0xFF00, 0xFF01)
_SUCCESS, _WARNING = 0x0000, 0xB000
_OUT_OF_RESOURCES = 0xA702  # C-GET sub-operation: refused, out of resources
_SYNTAXES = [ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian,
             DeflatedExplicitVRLittleEndian, JPEGBaseline8Bit, JPEGExtended12Bit,
             JPEGLosslessSV1, JPEGLSLossless, JPEGLSNearLossless, JPEG2000Lossless, JPEG2000,
             RLELossless]


@dataclass(frozen=True, slots=True)
class _Study:
    uid: str
    date: str
    count: int


def pull_dimse(source: DimseSource, spool_root: str | Path, *,
               today: date | None = None) -> PullResult:
    """Retrieve every study the PACS holds that is new or has grown since the last pull.

    Args:
        source: the PACS and its policy.
        spool_root: folder holding every source's spool and state.
        today: the date the mark moves to (default: today).

    Returns:
        Counts (``cursor`` is the new mark as the integer YYYYMMDD) and, if the pull stopped
        early, why.

    Raises:
        StorageError: the spool cannot be written (disk full, permissions).

    """
    started = time.monotonic()
    root = Path(spool_root)
    state_path = root / f"{source.name}.state.json"
    result = PullResult(source.name)
    try:
        state = load_state(state_path)
        puller = _Puller(source, root, result)
        state = puller.run(state, today or date.today())
        save_state(state_path, state)
    except SourceUnreachable as exc:
        result.unreachable = str(exc)
        log.warning("source %s: unreachable, pull stopped: %s", source.name, exc)
    except OSError as exc:
        raise StorageError(f"cannot write the spool of source {source.name!r} under "
                           f"{str(root)!r}: {exc.strerror or exc}; free space and rerun "
                           "(nothing fetched so far is lost)") from None
    result.cursor = int(state.cursor or 0)
    result.seconds = round(time.monotonic() - started, 3)
    return result


class _Puller:
    """One pull: the AE, the spool folders and the counts."""

    def __init__(self, source: DimseSource, root: Path, result: PullResult) -> None:
        self.source, self.result = source, result
        self.files = root / source.name
        self.partial = root / ".partial"
        self.ae = _ae(source)
        self.in_a_row = 0

    def run(self, state: State, today: date) -> State:
        private_folder(self.partial)
        private_folder(self.files)
        since = _since(str(state.cursor or ""), self.source)
        counts: dict[str, list[Any]] = state.marks.setdefault("studies", {})  # [date, count]
        failed: list[str] = []
        for study in self._find(since):
            key = uid_digest(study.uid, 20)
            if counts.get(key, [None, -1])[1] == study.count:
                self.result.already += study.count
                continue
            if self._get(study):
                counts[key] = [study.date, study.count]
            else:
                failed.append(study.date)
                self.result.pending += 1
        mark = min([d for d in failed if d] or [today.strftime("%Y%m%d")])
        keep = _since(mark, self.source)
        studies = {k: v for k, v in counts.items() if not keep or str(v[0]) >= keep}
        return State(cursor=mark, marks={"studies": studies})

    def _find(self, since: str) -> list[_Study]:
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.StudyInstanceUID = ""
        query.StudyDate = f"{since}-" if since else ""
        query.NumberOfStudyRelatedInstances = ""
        found = []
        with self._association() as assoc:
            for status, answer in assoc.send_c_find(
                    query, StudyRootQueryRetrieveInformationModelFind):
                code = _status(status)
                if code in _PENDING and answer is not None:
                    found.append(_Study(str(answer.StudyInstanceUID),
                                        str(answer.get("StudyDate", "") or ""),
                                        int(answer.get("NumberOfStudyRelatedInstances") or 0)))
                elif code != _SUCCESS:
                    raise SourceUnreachable(f"C-FIND failed with status 0x{code:04X}")
        log.info("source %s: %d studies dated from %s on", self.source.name, len(found),
                 since or "the start")
        return found

    def _get(self, study: _Study) -> bool:
        """Retrieve one study; False (and counted) when it failed."""
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.StudyInstanceUID = study.uid
        folder = self.files / uid_digest(study.uid, 20)
        code = -1
        try:
            with self._association(folder) as assoc:
                for status, _ in assoc.send_c_get(
                        query, StudyRootQueryRetrieveInformationModelGet):
                    code = _status(status)
        except SourceUnreachable:
            code = -1
        if code == _SUCCESS:
            self.in_a_row = 0
            return True
        self.in_a_row += 1
        log.warning("source %s: a study could not be retrieved (status %s); asked for again "
                    "next run", self.source.name, "none" if code < 0 else f"0x{code:04X}")
        if self.in_a_row >= self.source.max_failures:
            raise SourceUnreachable(f"{self.in_a_row} study retrievals failed in a row")
        return False

    def _association(self, folder: Path | None = None) -> Any:
        handlers: list[Any] = []
        if folder is not None:
            handlers.append((evt.EVT_C_STORE, self._store_into(folder)))
        roles: list[Any] = [build_role(str(c.abstract_syntax), scp_role=True)
                 for c in StoragePresentationContexts]
        assoc = self.ae.associate(self.source.host, self.source.port,
                                  ae_title=self.source.called_ae, ext_neg=roles,
                                  evt_handlers=handlers)
        if not assoc.is_established:
            raise SourceUnreachable(f"no association with {self.source.called_ae} at "
                                    f"{self.source.host}:{self.source.port} (refused, rejected "
                                    "or timed out)")
        return _Released(assoc)

    def _store_into(self, folder: Path) -> Any:
        def store(event: Any) -> int:
            target = folder / f"{uid_digest(str(event.request.AffectedSOPInstanceUID), 32)}.dcm"
            if target.exists():
                self.result.already += 1
                return _SUCCESS
            data = event.encoded_dataset()
            try:
                write_durably(data, self.partial / f"{target.name}.part", target)
            except OSError as exc:
                log.error("source %s: cannot write the spool: %s", self.source.name,
                          exc.strerror or exc)
                return _OUT_OF_RESOURCES
            self.result.fetched += 1
            self.result.bytes += len(data)
            return _SUCCESS
        return store


class _Released:
    """Release the association on leaving the block (abort it after an error)."""

    def __init__(self, assoc: Any) -> None:
        self.assoc = assoc

    def __enter__(self) -> Any:
        return self.assoc

    def __exit__(self, kind: Any, *_: Any) -> None:
        if kind is None and self.assoc.is_established:
            self.assoc.release()
        else:
            self.assoc.abort()


def _ae(source: DimseSource) -> AE:
    ae = AE(ae_title=source.calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = source.timeout
    ae.connection_timeout = source.timeout
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    for context in StoragePresentationContexts:
        ae.add_requested_context(str(context.abstract_syntax), _SYNTAXES)
    return ae


def _status(status: Any) -> int:
    """The Status of a response.

    Raises:
        SourceUnreachable: no response at all.

    """
    if "Status" not in status:
        raise SourceUnreachable("the PACS stopped answering (timeout or connection lost)")
    return int(status.Status)


def _since(mark: str, source: DimseSource) -> str:
    """The first study date to ask for: the mark less the overlap, or ``start_date``."""
    if not mark:
        return source.start_date
    day = datetime.strptime(mark, "%Y%m%d") - timedelta(days=source.overlap_days)
    return day.strftime("%Y%m%d")
