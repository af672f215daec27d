"""Who may call the CDS Hooks service: JWTs signed by the EHRs of an allow-list.

The CDS Hooks specification ("Trusting CDS Clients") has the EHR sign every request with a
JWT in ``Authorization: Bearer``: header ``alg``, ``kid`` (and optionally ``jku``), claims
``iss``, ``aud`` (the service's URL), ``exp``, ``iat`` and ``jti``, signed with the EHR's
private key; its public keys are in its JWKS. :class:`CdsAuth` accepts a JWT only when

- its ``iss`` is a configured client's (:class:`dedup.config.CdsClient`), and a ``jku``
  header, if any, names that client's own JWKS URL;
- ``alg`` is RS384 or ES384 (the specification's) or RS256 or ES256, and matches the key's
  type: never ``none``, never an HMAC keyed with a public key;
- the key ``kid`` of the client's JWKS (:mod:`dedup.service.jwks`) verifies the signature;
- ``aud`` names this service, ``exp``, ``iat`` and ``jti`` are present, ``exp`` is not past
  and ``iat`` not ahead (by more than the configured leeway), and the token lives at most
  :data:`MAX_LIFETIME` seconds;
- its ``jti`` was not seen before from that issuer: seen ones are remembered until their
  ``exp`` (plus the leeway), at most :data:`MAX_REMEMBERED` at once (then calls are refused
  until some expire, never let through).

A refusal names the problem (``expired``, ``wrong-audience``, ``unknown-issuer``,
``replayed`` ...) but never echoes the token or its claims.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass
from typing import Any

import jwt

from dedup.config.clients import CdsClient, audiences
from dedup.config.file import ServiceSection
from dedup.service.jwks import KeySets, KeyUnavailable

#: Accepted signing algorithms, each with the key type it needs.
ALGORITHMS = {"RS384": "RSA", "ES384": "EC", "RS256": "RSA", "ES256": "EC"}
#: Longest accepted lifetime of a JWT, ``exp - iat`` (seconds); it bounds the jti memory.
MAX_LIFETIME = 300
#: Most jtis remembered at once.
MAX_REMEMBERED = 1_000_000
_MESSAGES = {
    "malformed": "the bearer token is not a JWT",
    "algorithm": "the JWT's alg is not accepted; sign with RS384 or ES384",
    "no-kid": "the JWT header has no kid",
    "unknown-issuer": "the JWT's iss is not a configured CDS client",
    "foreign-jku": "the JWT's jku is not the JWKS URL configured for its issuer",
    "unknown-key": "no key of the issuer's JWKS has the JWT's kid",
    "jwks-unavailable": "the issuer's JWKS cannot be fetched",
    "key-mismatch": "the JWT's alg does not fit the type of the key its kid names",
    "bad-signature": "the JWT's signature does not verify",
    "expired": "the JWT has expired",
    "wrong-audience": "the JWT's aud does not name this service",
    "missing-claim": "the JWT lacks a required claim (iss, aud, exp, iat, jti)",
    "issued-in-future": "the JWT's iat is in the future (check the clocks)",
    "too-long-lived": f"the JWT lives longer than {MAX_LIFETIME} s (exp - iat)",
    "replayed": "the JWT's jti was already used",
    "invalid": "the JWT is not valid",
    "busy": f"more than {MAX_REMEMBERED} JWTs are in their lifetime; retry later",
}


class Refused(Exception):
    """A JWT that does not authenticate its caller; ``reason`` names why."""

    def __init__(self, reason: str) -> None:
        super().__init__(_MESSAGES[reason])
        self.reason = reason

    @property
    def status(self) -> int:
        """401, or 503 when the refusal is this server's limit, not the token's fault."""
        return 503 if self.reason in ("busy", "jwks-unavailable") else 401


@dataclass(frozen=True, slots=True)
class _Unverified:
    alg: str
    kid: str
    jku: object  # None when absent
    issuer: str


class CdsAuth:
    """Verifies CDS Hooks JWTs against the configured clients (one instance per server).

    Args:
        clients: the EHRs allowed to call.
        public_url: this service's URL as the EHRs call it (their default audience).
        leeway: clock skew allowed on ``exp`` and ``iat`` (seconds).
        keys: where the clients' public keys come from.

    """

    def __init__(self, clients: tuple[CdsClient, ...], public_url: str, leeway: float,
                 keys: KeySets) -> None:
        self.clients = {c.issuer: c for c in clients}
        self.public_url = public_url
        self.leeway = leeway
        self.keys = keys
        self._seen: dict[tuple[str, str], float] = {}
        self._expiry: list[tuple[float, tuple[str, str]]] = []

    async def caller(self, token: str, path: str) -> str:
        """The audit log's name of the client that signed ``token`` for a call to ``path``.

        Raises:
            Refused: the token does not authenticate a configured client.

        """
        seen = _unverified(token)
        client = self.clients.get(seen.issuer)
        if client is None:
            raise Refused("unknown-issuer")
        if seen.jku is not None and seen.jku != client.jwks_url:
            raise Refused("foreign-jku")
        try:
            jwk = await self.keys.key(client.jwks_url, seen.kid)
        except KeyUnavailable as exc:
            raise Refused(str(exc)) from None
        claims = self._verified(token, seen, jwk, client, path)
        self._remember(seen.issuer, claims)
        return f"cds:{client.issuer}"[:200]

    def _verified(self, token: str, seen: _Unverified, jwk: dict[str, object],
                  client: CdsClient, path: str) -> dict[str, Any]:
        if jwk.get("kty") != ALGORITHMS[seen.alg] or jwk.get("alg", seen.alg) != seen.alg:
            raise Refused("key-mismatch")
        try:
            key = jwt.PyJWK(jwk, algorithm=seen.alg).key  # the public key object
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[seen.alg], issuer=client.issuer,
                audience=audiences(client, self.public_url, path), leeway=self.leeway,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]})
        except jwt.PyJWTError as exc:
            raise Refused(_reason(exc)) from None
        now = time.time()
        iat, exp = claims["iat"], claims["exp"]
        if not isinstance(exp, int | float) or not isinstance(claims["jti"], str):
            raise Refused("invalid")
        if iat > now + self.leeway:
            raise Refused("issued-in-future")
        if exp - iat > MAX_LIFETIME:
            raise Refused("too-long-lived")
        return claims

    def _remember(self, issuer: str, claims: dict[str, Any]) -> None:
        """Refuse a jti seen before; remember this one until its exp (plus the leeway)."""
        now = time.time()
        while self._expiry and self._expiry[0][0] < now:
            _, old = heapq.heappop(self._expiry)
            self._seen.pop(old, None)
        key = (issuer, claims["jti"][:256])
        if key in self._seen:
            raise Refused("replayed")
        if len(self._seen) >= MAX_REMEMBERED:
            raise Refused("busy")
        until = float(claims["exp"]) + self.leeway
        self._seen[key] = until
        heapq.heappush(self._expiry, (until, key))


def cds_auth_of(service: ServiceSection) -> CdsAuth | None:
    """The verifier of a ``[service]`` section's CDS clients (``None`` when it has none)."""
    if not service.cds_clients:
        return None
    return CdsAuth(service.cds_clients, service.public_url, service.cds_leeway_seconds,
                   KeySets(service.cds_jwks_ttl_seconds, service.cds_jwks_refetch_seconds))


def _unverified(token: str) -> _Unverified:
    """The header fields and issuer that pick the key, read before anything is trusted."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise Refused("malformed") from None
    alg, kid, jku = header.get("alg"), header.get("kid"), header.get("jku")
    if alg not in ALGORITHMS:
        raise Refused("algorithm")
    if not isinstance(kid, str) or not kid:
        raise Refused("no-kid")
    issuer = claims.get("iss")
    if not isinstance(issuer, str):
        raise Refused("missing-claim")
    return _Unverified(alg, kid, jku, issuer)


def _reason(exc: jwt.PyJWTError) -> str:
    """The refusal reason of a PyJWT error."""
    for kind, reason in ((jwt.ExpiredSignatureError, "expired"),
                         (jwt.InvalidAudienceError, "wrong-audience"),
                         (jwt.MissingRequiredClaimError, "missing-claim"),
                         (jwt.ImmatureSignatureError, "issued-in-future"),
                         (jwt.InvalidSignatureError, "bad-signature"),
                         (jwt.InvalidIssuerError, "unknown-issuer"),
                         (jwt.InvalidKeyError, "key-mismatch")):
        if isinstance(exc, kind):
            return reason
    return "invalid"
