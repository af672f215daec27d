"""The ``[listen]`` section: the DICOM storage SCP that ``dedup listen`` runs.

Example::

    [listen]
    ae_title = "DEDUP"
    host = "0.0.0.0"
    port = 11112
    allowed = "ROUTER, CT1@10.1.2.3"   # calling AE titles; AE@host also pins the address
    idle_seconds = 10                   # quiet time after which a study counts as complete

Only the calling AE titles listed in ``allowed`` may associate; every other association is
rejected (A-ASSOCIATE-RJ, calling AE title not recognised).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dedup.config.settings import setting

_AE_LIMIT = 16  # PS3.5: an AE title is at most 16 characters


@dataclass(frozen=True, slots=True)
class ListenSection:
    """``[listen]``: where ``dedup listen`` accepts instances and from whom."""

    ae_title: str = setting("DEDUP", "AE title of the listener (the called AE title senders "
                                     "use).")
    host: str = setting("127.0.0.1", "Address the listener binds (0.0.0.0: every interface).")
    port: int = setting(11112, "TCP port of the listener.")
    allowed: str = setting("", "Calling AE titles accepted, comma-separated; AE@address also "
                               "requires that peer address. Others are rejected.")
    spool: str = setting("", "Folder instances are written to before they are acknowledged "
                             "[default: <archive>.listen beside the archive].")
    idle_seconds: float = setting(10.0, "Seconds without a new instance after which a study "
                                        "counts as complete: it is indexed and matched.")
    writeback_url: str = setting("", "Orthanc REST API to flag duplicates on (metadata of the "
                                     "duplicate study); empty: none.")
    writeback_username: str = setting("", "HTTP basic-auth user of writeback_url.")
    writeback_password_env: str = setting("", "Environment variable holding that user's "
                                              "password (never the file).")
    writeback_metadata: str = setting("DedupFinding", "Name of the metadata written; declare "
                                                      "it in Orthanc's UserMetadata.")

    def password(self, environ: Mapping[str, str] | None = None) -> str:
        """The write-back password from ``writeback_password_env`` (empty when none)."""
        env = os.environ if environ is None else environ
        return env.get(self.writeback_password_env, "") if self.writeback_password_env else ""

    def peers(self) -> dict[str, frozenset[str]]:
        """The allowed calling AE titles, each with its addresses (empty: any address)."""
        out: dict[str, set[str]] = {}
        for entry in (e.strip() for e in self.allowed.split(",")):
            if entry:
                title, _, host = entry.partition("@")
                hosts = out.setdefault(title.strip(), set())
                if host.strip():
                    hosts.add(host.strip())
        return {title: frozenset(hosts) for title, hosts in out.items()}


def check_listen(section: ListenSection, base: Path, where: str, problems: list[str],
                 env: Mapping[str, str]) -> ListenSection:
    """Validate ``[listen]``, appending every problem; return it with its spool resolved.

    Args:
        section: as read from the file.
        base: the configuration file's folder (a relative spool is relative to it).
        where: how problems name the section.
        problems: where problems are appended.
        env: the environment (``writeback_password_env`` must be set in it).

    """
    problems += [f"{where}: {p}" for p in _ae_problems("ae_title", section.ae_title)]
    if not 1 <= section.port <= 65535:
        problems.append(f"{where}: port={section.port!r} must be 1-65535")
    if section.idle_seconds <= 0:
        problems.append(f"{where}: idle_seconds={section.idle_seconds!r} must be > 0")
    peers = section.peers()
    if not peers:
        problems.append(f"{where}: allowed is empty, so every sender would be refused; list "
                        "the calling AE titles of the routers and modalities, comma-separated")
    for title, hosts in peers.items():
        problems += [f"{where}: {p}" for p in _ae_problems("allowed", title)]
        problems += [f"{where}: allowed {title}@{h}: {h!r} is not an IP address"
                     for h in sorted(hosts) if not _is_address(h)]
    problems += [f"{where}: {p}" for p in _writeback_problems(section, env)]
    return replace(section, spool=str(base / section.spool)) if section.spool else section


def _writeback_problems(section: ListenSection, env: Mapping[str, str]) -> list[str]:
    if not section.writeback_url:
        return []
    url = urlsplit(section.writeback_url)
    out = []
    if url.scheme not in ("http", "https") or not url.hostname or url.username:
        out.append(f"writeback_url={section.writeback_url!r} must be http(s)://host[:port]"
                   "[/prefix], credentials in writeback_username and writeback_password_env")
    if section.writeback_password_env and section.writeback_password_env not in env:
        out.append(f"writeback_password_env names {section.writeback_password_env!r}, which "
                   "is not set in the environment")
    if section.writeback_username and not section.writeback_password_env:
        out.append("writeback_username is set but writeback_password_env is not")
    return out


def _ae_problems(name: str, title: Any) -> list[str]:
    if not title or len(title) > _AE_LIMIT or "\\" in title or not title.isprintable():
        return [f"{name}: AE title {title!r} must be 1-16 printable characters without '\\'"]
    return []


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
