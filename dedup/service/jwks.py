"""The public keys of the EHRs that sign CDS Hooks calls: each client's JWKS, fetched and cached.

A key set is fetched with a timeout and a size limit, in a thread (the event loop keeps
serving), and used for ``ttl`` seconds. A JWT signed with a key id the cached set lacks
makes one fetch (a key rotation), but at most one per ``refetch`` seconds per client, and
concurrent requests share that fetch: a flood of made-up key ids never becomes a flood of
requests to the EHR. A set that cannot be fetched keeps the cached keys in use.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from dataclasses import dataclass, field

import jwt

log = logging.getLogger("dedup.service")

#: Seconds a JWKS fetch may take.
FETCH_TIMEOUT = 5.0
#: Largest JWKS accepted (bytes).
MAX_JWKS_BYTES = 256 * 1024
#: Key types usable with the accepted algorithms.
KEY_TYPES = frozenset({"RSA", "EC"})


class KeyUnavailable(Exception):
    """No key to verify with: the key id is unknown, or the key set cannot be fetched."""


@dataclass
class _KeySet:
    keys: dict[str, dict[str, object]] = field(default_factory=dict)  # kid -> JWK
    fetched: float = float("-inf")  # when the keys were last fetched (monotonic)
    tried: float = float("-inf")  # when a fetch was last attempted
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class KeySets:
    """The cached key sets of the configured clients, by JWKS URL.

    Args:
        ttl: seconds a fetched set is used before it is fetched again.
        refetch: least seconds between two fetches of one set for an unknown key id.

    """

    def __init__(self, ttl: float, refetch: float) -> None:
        self.ttl = ttl
        self.refetch = refetch
        self._sets: dict[str, _KeySet] = {}

    async def key(self, url: str, kid: str) -> dict[str, object]:
        """The JWK with key id ``kid`` of the set at ``url``.

        Raises:
            KeyUnavailable: the set has no such key (after a refetch, if one is allowed), or
                it cannot be fetched and no key is cached.

        """
        keys = self._sets.setdefault(url, _KeySet())
        if self._due(keys, kid):
            async with keys.lock:
                if self._due(keys, kid):  # not fetched meanwhile by a request it waited for
                    await self._fetch(url, keys)
        if kid not in keys.keys:
            raise KeyUnavailable("unknown-key")
        return keys.keys[kid]

    def _due(self, keys: _KeySet, kid: str) -> bool:
        """Whether to fetch: the set is stale or lacks ``kid``, and no fetch was tried lately."""
        now = time.monotonic()
        wanted = now - keys.fetched >= self.ttl or kid not in keys.keys
        return wanted and now - keys.tried >= self.refetch

    async def _fetch(self, url: str, keys: _KeySet) -> None:
        keys.tried = time.monotonic()
        try:
            fetched = await asyncio.to_thread(_download, url)
        except (OSError, ValueError) as exc:
            log.warning("JWKS fetch failed (%s); %d cached key(s) stay in use",
                        type(exc).__name__, len(keys.keys))
            if not keys.keys:
                raise KeyUnavailable("jwks-unavailable") from None
            return
        keys.keys, keys.fetched = fetched, time.monotonic()


def _download(url: str) -> dict[str, dict[str, object]]:
    """Fetch a JWKS: its usable signing keys by key id.

    Raises:
        OSError: the fetch failed or timed out.
        ValueError: the answer is not a JWKS.

    """
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as answer:
        body = answer.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError(f"JWKS larger than {MAX_JWKS_BYTES} bytes")
    document = json.loads(body)
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError("not a JWKS: no keys array")
    return {str(k["kid"]): k for k in entries if _usable(k)}


def _usable(entry: object) -> bool:
    """A public signing key of a supported type, with a key id, that PyJWT can load."""
    if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str) \
            or entry.get("kty") not in KEY_TYPES or entry.get("use", "sig") != "sig" \
            or "d" in entry:  # a private key published by mistake is not trusted
        return False
    try:
        jwt.PyJWK(entry)
    except jwt.PyJWTError:
        return False
    return True
