"""The CDS Hooks clients the check service trusts: ``[[service.cds_clients]]`` in the file.

Each client is an EHR that signs its CDS Hooks requests with a JWT (the CDS Hooks
specification's "Trusting CDS Clients"): its ``iss`` (exact), the URL of its JSON Web Key Set
and, optionally, the audience it writes into ``aud`` (default: this service's
``public_url`` with ``/cds-services``, or the called service's own URL under it). A JWKS URL
must be ``https``, or ``http`` on a loopback address (a test or a sidecar on the same host).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dedup.config.settings import setting


@dataclass(frozen=True, slots=True)
class CdsClient:
    """One EHR allowed to call the CDS Hooks service, and where its public keys are."""

    issuer: str = setting("", "The client's `iss`, exactly as its JWTs carry it.")
    jwks_url: str = setting("", "URL of the client's JSON Web Key Set (https, or http on "
                                "loopback); a `jku` header naming another URL is refused.")
    audience: str = setting("", "The `aud` its JWTs carry (empty: `public_url` + "
                                "`/cds-services`, or the called service's URL under it).")


def client_problems(clients: tuple[CdsClient, ...], public_url: str, where: str) -> list[str]:
    """What is wrong with the configured clients and the ``public_url`` they rely on."""
    problems = []
    seen: set[str] = set()
    for n, client in enumerate(clients):
        at = f"{where}[{n}]"
        if not client.issuer:
            problems.append(f"{at}: issuer is required (the `iss` of the client's JWTs)")
        elif client.issuer in seen:
            problems.append(f"{at}: issuer {client.issuer!r} is configured twice")
        seen.add(client.issuer)
        if not _key_url(client.jwks_url):
            problems.append(f"{at}: jwks_url={client.jwks_url!r} must be an https URL (http "
                            "only on a loopback address)")
        if not client.audience and not public_url:
            problems.append(f"{at}: no audience; set public_url in [service] (the service's "
                            "URL as the EHR calls it) or audience for this client")
    if public_url and not _web_url(public_url):
        problems.append(f"[service]: public_url={public_url!r} must be http(s)://host[:port]"
                        "[/prefix], without a query")
    return problems


def audiences(client: CdsClient, public_url: str, path: str) -> list[str]:
    """The ``aud`` values a JWT of ``client`` may carry for a request to ``path``.

    The configured audience, else the discovery URL (``<public_url>/cds-services``) and the
    URL actually called (``<public_url><path>``), as EHRs read the specification either way.
    """
    if client.audience:
        return [client.audience]
    base = public_url.rstrip("/")
    return list(dict.fromkeys([f"{base}/cds-services", f"{base}{path}"]))


def raw_clients(raw: Any) -> tuple[list[dict[str, Any]], str]:
    """The tables of ``cds_clients`` and a problem ('' when it is an array of tables)."""
    if raw is None:
        return [], ""
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        return [], ("[service]: cds_clients must be an array of tables: one "
                    "[[service.cds_clients]] block per EHR")
    return raw, ""


def _web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query \
        and not parts.username


def _key_url(url: str) -> bool:
    if not _web_url(url):
        return False
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    host = parts.hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
