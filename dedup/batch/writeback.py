"""Flag a duplicate on the PACS it came from: Orthanc metadata over the REST API.

For each duplicate row, the duplicate study is looked up by its Study Instance UID
(``POST /tools/lookup``) and gets one metadata entry (``PUT /studies/{id}/metadata/{name}``)
holding JSON: the kind, the Study Instance UID it duplicates and the score. The name must be
declared in Orthanc's ``UserMetadata``. A study the PACS does not hold (yet) is skipped;
a failed request is logged and never stops the listener.
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from dedup.config.listen import ListenSection

log = logging.getLogger("dedup.listen")

_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Finding:
    """A duplicate row to flag: the duplicate study, its kind, its source and the score."""

    study_uid: str
    kind: str
    duplicate_of_study_uid: str
    score: float


def write_back(section: ListenSection, findings: list[Finding], password: str) -> int:
    """Write each finding to its study's metadata on ``section.writeback_url``.

    Args:
        section: the write-back URL, user and metadata name.
        findings: the rows to flag.
        password: the basic-auth password (see :meth:`ListenSection.password`).

    Returns:
        How many studies were flagged.

    """
    headers = {"User-Agent": "dedup"}
    if section.writeback_username:
        token = base64.b64encode(f"{section.writeback_username}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    base = section.writeback_url.rstrip("/")
    flagged = 0
    for finding in findings:
        try:
            flagged += _flag(base, headers, section.writeback_metadata, finding)
        except (OSError, ValueError) as exc:
            log.warning("write-back of a %s finding failed: %s", finding.kind, _reason(exc))
    return flagged


def _flag(base: str, headers: dict[str, str], name: str, finding: Finding) -> bool:
    found = _request(f"{base}/tools/lookup", headers, "POST", finding.study_uid.encode())
    ids = [str(r["ID"]) for r in found or [] if r.get("Type") == "Study"]
    if not ids:
        log.info("write-back: the PACS holds no such study (yet); %s finding not flagged",
                 finding.kind)
        return False
    value = json.dumps({"kind": finding.kind, "duplicate_of": finding.duplicate_of_study_uid,
                        "score": round(finding.score, 4)})
    _request(f"{base}/studies/{ids[0]}/metadata/{name}", headers, "PUT", value.encode())
    return True


def _request(url: str, headers: dict[str, str], method: str, body: bytes) -> Any:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
        text = response.read()
    return json.loads(text) if text.strip() else None


def _reason(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    return f"{type(exc).__name__}"
