"""A DICOM storage SCP that writes each instance to a spool folder before acknowledging it.

Spool layout (no UID, name or ID appears in a path)::

    <spool>/<study>/<instance>-<arrival>.dcm   Part 10 files, one folder per study
    <spool>/.partial/                          writes in progress (emptied at start)

``<study>`` is a digest of the Study Instance UID, ``<instance>`` one of the SOP Instance UID
and ``<arrival>`` a counter, so a re-sent instance is a second file (a re-send is what the
indexer reports as an ``exact`` duplicate) and never overwrites the first.

Durability: an instance is written under ``.partial``, fsynced, renamed into its study folder
and that folder fsynced (and the spool, when the study folder is new) before the C-STORE
response says success. An acknowledged instance survives ``kill -9`` and power loss; the spool
is the queue the indexer reads.

Access: an association is rejected (A-ASSOCIATE-RJ, permanent, calling AE title not
recognised) unless its calling AE title is allowed and, where the configuration pins
addresses for that title, the peer's address is one of them.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, StoragePresentationContexts, evt
from pynetdicom.presentation import VerificationPresentationContexts

from dedup.config.listen import ListenSection
from dedup.ingest.spool import fsync_dir
from dedup.private import private_folder, private_opener

log = logging.getLogger("dedup.listen")

Arrived = Callable[[Path], None]  # called with the study folder after each durable write

_SUCCESS, _OUT_OF_RESOURCES, _CANNOT_UNDERSTAND = 0x0000, 0xA700, 0xC000
_REJECT_PERMANENT, _SERVICE_USER, _CALLING_AE_NOT_RECOGNISED = 0x01, 0x01, 0x03


def study_folder(spool: Path, study_uid: str) -> Path:
    """The spool folder of one study (a digest of its Study Instance UID)."""
    return spool / uid_digest(study_uid, 20)


class StorageSCP:
    """The listener: an AE accepting storage from allowed peers into ``spool``."""

    def __init__(self, section: ListenSection, spool: Path, arrived: Arrived) -> None:
        self.section, self.spool, self.arrived = section, spool, arrived
        self.peers = section.peers()
        self.partial = spool / ".partial"
        self._arrivals = itertools.count()
        self._prefix = f"{time.time_ns():x}"
        self._server: Any = None
        self.received = 0
        self._lock = threading.Lock()

    def start(self, port: int | None = None) -> int:
        """Prepare the spool and start serving in background threads; return the port.

        Raises:
            OSError: the address cannot be bound or the spool cannot be written.

        """
        private_folder(self.partial)
        for stale in self.partial.iterdir():
            stale.unlink()
        ae = AE(ae_title=self.section.ae_title)
        for context in [*StoragePresentationContexts, *VerificationPresentationContexts]:
            ae.add_supported_context(str(context.abstract_syntax), ALL_TRANSFER_SYNTAXES)
        ae.maximum_pdu_size = 0  # no limit: fewer, larger PDUs
        handlers: list[Any] = [(evt.EVT_REQUESTED, self._on_request),
                               (evt.EVT_C_STORE, self._on_store)]
        address = (self.section.host, self.section.port if port is None else port)
        self._server = ae.start_server(address, block=False, evt_handlers=handlers)
        return int(self._server.server_address[1])

    def stop(self) -> None:
        """Stop accepting and end open associations (unacknowledged instances are resent)."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def _on_request(self, event: Any) -> None:
        """Reject an association from a calling AE title (or address) not configured."""
        assoc = event.assoc
        title = str(assoc.requestor.primitive.calling_ae_title).strip()
        address = str(assoc.requestor.address)
        hosts = self.peers.get(title)
        if hosts is not None and (not hosts or address in hosts):
            log.info("association from %s at %s accepted", title, address)
            return
        log.warning("association from %r at %s rejected: calling AE title not allowed",
                    title, address)
        assoc.acse.send_reject(_REJECT_PERMANENT, _SERVICE_USER, _CALLING_AE_NOT_RECOGNISED)
        assoc.kill()

    def _on_store(self, event: Any) -> int:
        """Write the instance durably, then answer success (or a failure status)."""
        try:
            study_uid = str(event.dataset.StudyInstanceUID)
            sop_uid = str(event.request.AffectedSOPInstanceUID)
        except Exception:  # undecodable, or without a Study UID: refuse it
            log.warning("instance refused: no readable Study Instance UID")
            return _CANNOT_UNDERSTAND
        if not study_uid or not sop_uid:
            log.warning("instance refused: empty Study or SOP Instance UID")
            return _CANNOT_UNDERSTAND
        folder = study_folder(self.spool, study_uid)
        name = f"{uid_digest(sop_uid, 32)}-{self._prefix}-{next(self._arrivals)}.dcm"
        try:
            write_durably(event.encoded_dataset(), self.partial / f"{name}.part",
                           folder / name)
        except OSError as exc:
            log.error("instance refused: cannot write the spool %s: %s", self.spool,
                      exc.strerror or exc)
            return _OUT_OF_RESOURCES
        with self._lock:
            self.received += 1
        self.arrived(folder)
        return _SUCCESS


def write_durably(data: bytes, temporary: Path, target: Path) -> None:
    """Write ``data`` to ``target`` through ``temporary``: complete and on disk, or absent.

    Used by the listener and the DIMSE source, whose files arrive whole in memory (the HTTP
    pulls stream theirs through :func:`dedup.ingest.spool.write_file`).
    """
    with open(temporary, "wb", opener=private_opener) as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    new = not target.parent.exists()
    if new:
        private_folder(target.parent)
    os.replace(temporary, target)
    fsync_dir(target.parent)
    if new:
        fsync_dir(target.parent.parent)


def uid_digest(uid: str, length: int) -> str:
    """A file or folder name for a UID: the first ``length`` hex digits of its SHA-1."""
    return hashlib.sha1(uid.encode("ascii", "replace"), usedforsecurity=False).hexdigest()[:length]
