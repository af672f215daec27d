"""``[[sources]] type = "dicomweb"``: a DICOMweb server pulled over QIDO-RS and WADO-RS.

Credentials come from the environment or from files (mode 600), never from the configuration
file or the command line: HTTP basic (``username`` with ``password_env`` or ``password_file``)
or a bearer token (``token_env`` or ``token_file``). How the pull works: docs/sources.md.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from dedup.config.remote import RemoteSource
from dedup.config.settings import setting

_PREFIX = re.compile(r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$")
#: Lowest accepted value of each numeric key.
_LOWEST = {"timeout": 0.001, "retries": 1, "backoff": 0, "backoff_max": 0, "page_size": 1,
           "max_failures": 1, "spool_limit_mb": 0, "overlap_days": 0}


@dataclass(frozen=True, slots=True)
class DicomwebSource(RemoteSource):
    """A DICOMweb server whose new studies are pulled to the spool (QIDO-RS, then WADO-RS)."""

    type: str = setting("dicomweb", "dicomweb.")
    url: str = setting("", "Root of the DICOMweb service, e.g. http://pacs.local:8042/dicom-web "
                           "(QIDO-RS and WADO-RS under it unless prefixed).")
    qido_prefix: str = setting("", "Path under url where QIDO-RS answers (e.g. qido-rs); empty: "
                                   "url itself.")
    wado_prefix: str = setting("", "Path under url where WADO-RS answers (e.g. wado-rs); empty: "
                                   "url itself.")
    username: str = setting("", "HTTP basic-auth user; empty for no basic auth.")
    password_env: str = setting("", "Environment variable holding the basic-auth password.")
    password_file: str = setting("", "File holding the basic-auth password (mode 600).")
    token_env: str = setting("", "Environment variable holding a bearer token (instead of "
                                 "basic auth).")
    token_file: str = setting("", "File holding a bearer token (mode 600).")
    page_size: int = setting(100, "Results asked per QIDO-RS request (limit/offset paging).")
    max_failures: int = setting(5, "Failed downloads in a row after which the server counts as "
                                   "unreachable for this run.")
    spool_limit_mb: float = setting(0.0, "Most megabytes one pull writes to the spool; the rest "
                                         "waits for the next run (0: no limit).")
    overlap_days: int = setting(7, "Days before the high-water StudyDate that every pull lists "
                                   "again, for studies that grow or arrive late.")
    since: str = setting("", "StudyDate (YYYYMMDD) the first pull starts from; empty: every "
                             "study on the server.")

    def authorization(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The ``Authorization`` header for the configured credentials (empty dict: none).

        Raises:
            OSError: a ``password_file`` or ``token_file`` cannot be read.

        """
        env = os.environ if environ is None else environ
        token = _secret(self.token_env, self.token_file, env)
        if token:
            return {"Authorization": f"Bearer {token}"}
        if not self.username:
            return {}
        password = _secret(self.password_env, self.password_file, env)
        basic = base64.b64encode(f"{self.username}:{password}".encode()).decode()
        return {"Authorization": f"Basic {basic}"}


def resolved(source: DicomwebSource, base: Path) -> DicomwebSource:
    """The source with its secret files relative to the configuration file's folder."""
    password, token = source.password_file, source.token_file
    return replace(source, password_file=str(base / password) if password else "",
                   token_file=str(base / token) if token else "")


def dicomweb_problems(source: DicomwebSource, where: str, env: Mapping[str, str]) -> list[str]:
    """Every problem of one dicomweb source, each naming the key and the fix."""
    problems = _url_problems(source, where)
    if source.username and (source.token_env or source.token_file):
        problems.append(f"{where}: set username (basic auth) or token_env/token_file (bearer), "
                        "not both")
    if source.username and not (source.password_env or source.password_file):
        problems.append(f"{where}: username is set but neither password_env nor password_file")
    for key in ("password_env", "token_env"):
        if (name := getattr(source, key)) and name not in env:
            problems.append(f"{where}: {key} names {name!r}, which is not set in the environment")
    for key in ("password_file", "token_file"):
        if (path := getattr(source, key)) and not Path(path).is_file():
            problems.append(f"{where}: {key}={path!r} is not a file")
    if source.since and not _is_date(source.since):
        problems.append(f"{where}: since={source.since!r} must be a date as YYYYMMDD")
    problems += [f"{where}: {key}={getattr(source, key)!r} must be >= {low}"
                 for key, low in _LOWEST.items() if getattr(source, key) < low]
    return problems


def _url_problems(source: DicomwebSource, where: str) -> list[str]:
    url = urlsplit(source.url)
    problems = []
    if url.scheme not in ("http", "https") or not url.hostname:
        problems.append(f"{where}: url={source.url!r} must be http(s)://host[:port][/path]")
    if url.username or url.password or url.query:
        problems.append(f"{where}: url must hold no credentials or query; put credentials in "
                        "username/password_env or token_env")
    for key in ("qido_prefix", "wado_prefix"):
        if (prefix := getattr(source, key)) and not _PREFIX.match(prefix):
            problems.append(f"{where}: {key}={prefix!r} must be a relative path such as "
                            "'qido-rs'")
    return problems


def _secret(env_key: str, file_key: str, env: Mapping[str, str]) -> str:
    if env_key:
        return env.get(env_key, "")
    if file_key:
        return Path(file_key).read_text(encoding="utf-8").strip()
    return ""


def _is_date(text: str) -> bool:
    try:
        return len(text) == 8 and date(int(text[:4]), int(text[4:6]), int(text[6:])) is not None
    except ValueError:
        return False
