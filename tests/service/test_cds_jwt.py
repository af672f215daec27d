"""CDS Hooks calls signed by an EHR: JWTs checked against a JWKS served on loopback.

The keys are made here with ``cryptography``, the tokens signed with PyJWT (as an EHR's
library would) or written by hand (``alg: none``), the JWKS served by a real HTTP server,
and the service is a real ``dedup serve`` configured with ``[[service.cds_clients]]``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.service.conftest import AUTH, audited, running_server
from tests.service.test_cds_hooks import CT_HEAD, SIGN, hook_request

ISSUER = "https://ehr.example.org"
PUBLIC_URL = "https://dedup.example.org"
AUDIENCE = f"{PUBLIC_URL}/cds-services"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP384R1())
NEW_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # rotated in later


class Jwks:
    """A JWKS on a loopback HTTP server: its keys can change, its fetches are counted."""

    def __init__(self) -> None:
        self.keys = [_jwk(RSA_KEY, "rsa-1"), _jwk(EC_KEY, "ec-1")]
        self.fetches = 0
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.fetches += 1
                body = json.dumps({"keys": jwks.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    return {**jwk, "kid": kid, "use": "sig"}


def token(*, key: Any = RSA_KEY, alg: str = "RS384", kid: str = "rsa-1",
          headers: dict[str, Any] | None = None, **claims: Any) -> str:
    """A CDS Hooks JWT as the specification describes it; ``claims`` override or drop (None)."""
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "exp": now + 300, "iat": now,
            "jti": str(uuid.uuid4()), **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid, **(headers or {})})


def unsigned(**claims: Any) -> str:
    """A JWT with ``alg: none`` and no signature, written by hand."""
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "exp": now + 300, "iat": now,
            "jti": str(uuid.uuid4()), **claims}
    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': 'rsa-1'})}.{part(body)}."


@pytest.fixture(scope="module")
def jwks() -> Iterator[Jwks]:
    served = Jwks()
    yield served
    served.server.shutdown()


@pytest.fixture(scope="module")
def service(archive: Path, jwks: Jwks) -> Iterator[str]:
    config = archive.parent / "cds.toml"
    config.write_text(f"""
[[sources]]
name = "incoming"
type = "folder"
path = "."

[service]
public_url = "{PUBLIC_URL}"
cds_leeway_seconds = 60
cds_jwks_refetch_seconds = 1

[[service.cds_clients]]
issuer = "{ISSUER}"
jwks_url = "{jwks.url}"
""")
    with running_server(archive, "cds-jwt", DEDUP_CONFIG=str(config)) as url:
        yield url


def call(service: str, bearer: str, path: str = f"/cds-services/{SIGN}") -> httpx.Response:
    return httpx.post(f"{service}{path}", json=hook_request("order-sign", CT_HEAD),
                      headers={"Authorization": f"Bearer {bearer}"}, timeout=20)


def refused(response: httpx.Response, reason: str, bearer: str) -> None:
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "unauthorized" and error["message"].startswith(f"{reason}:")
    assert response.json()["resourceType"] == "OperationOutcome"
    assert not any(part in response.text for part in bearer.split(".") if part)


@pytest.mark.parametrize(("key", "alg", "kid"), [(RSA_KEY, "RS384", "rsa-1"),
                                                  (EC_KEY, "ES384", "ec-1"),
                                                  (RSA_KEY, "RS256", "rsa-1")])
def test_a_signed_call_is_answered_and_audited_under_its_issuer(
        service: str, archive: Path, key: Any, alg: str, kid: str) -> None:
    response = call(service, token(key=key, alg=alg, kid=kid))
    assert response.status_code == 200, response.text
    (card,) = response.json()["cards"]
    rows = audited(archive, lambda rows: any(r["check_id"] == card["uuid"] for r in rows))
    assert next(r for r in rows if r["check_id"] == card["uuid"])["client"] == \
        f"cds:{ISSUER} PractitionerRole/123"


def test_the_card_s_feedback_is_recorded_with_a_new_jwt(service: str) -> None:
    card = call(service, token()).json()["cards"][0]
    feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden",
                              "overrideReason": {"reason": {"code": "clinical-change"}},
                              "outcomeTimestamp": "2024-02-15T09:05:00Z"}]}
    response = httpx.post(f"{service}/cds-services/{SIGN}/feedback", json=feedback,
                          headers={"Authorization": f"Bearer {token()}"}, timeout=20)
    assert response.status_code == 200, response.text
    assert response.json()["recorded"] == 1


@pytest.mark.parametrize(("claims", "reason"), [
    ({"exp": int(time.time()) - 120, "iat": int(time.time()) - 400}, "expired"),
    ({"aud": "https://elsewhere.example.org/cds-services"}, "wrong-audience"),
    ({"aud": PUBLIC_URL}, "wrong-audience"),
    ({"iss": "https://other-ehr.example.org"}, "unknown-issuer"),
    ({"jti": None}, "missing-claim"),
    ({"exp": None}, "missing-claim"),
    ({"exp": int(time.time()) + 3600}, "too-long-lived"),
])
def test_claims_that_do_not_authenticate_are_refused_by_name(
        service: str, claims: dict[str, Any], reason: str) -> None:
    bearer = token(**claims)
    refused(call(service, bearer), reason, bearer)


def test_the_called_service_s_own_url_is_an_audience_too(service: str) -> None:
    assert call(service, token(aud=f"{AUDIENCE}/{SIGN}")).status_code == 200
    bearer = token(aud=f"{AUDIENCE}/dedup-prior-imaging-select")
    refused(call(service, bearer), "wrong-audience", bearer)


def test_a_replayed_jti_is_refused(service: str) -> None:
    bearer = token()
    assert call(service, bearer).status_code == 200
    refused(call(service, bearer), "replayed", bearer)
    again = token(jti=jwt.decode(bearer, options={"verify_signature": False})["jti"])
    refused(call(service, again), "replayed", again)


def test_forged_and_unsafe_signatures_are_refused(service: str, jwks: Jwks) -> None:
    forged = token(key=NEW_KEY, kid="rsa-1")  # another key claiming the known kid
    refused(call(service, forged), "bad-signature", forged)
    none = unsigned()
    refused(call(service, none), "algorithm", none)
    public_pem = RSA_KEY.public_key().public_bytes(Encoding.PEM,
                                                   PublicFormat.SubjectPublicKeyInfo)
    hmac_with_public_key = _hs256(public_pem)
    refused(call(service, hmac_with_public_key), "algorithm", hmac_with_public_key)
    wrong_type = token(key=RSA_KEY, alg="RS384", kid="ec-1")
    refused(call(service, wrong_type), "key-mismatch", wrong_type)
    elsewhere = token(headers={"jku": "https://attacker.example.org/jwks.json"})
    refused(call(service, elsewhere), "foreign-jku", elsewhere)
    assert call(service, token(headers={"jku": jwks.url})).status_code == 200


def _hs256(secret: bytes) -> str:
    """An HMAC JWT keyed with the public key's PEM (the classic algorithm confusion)."""
    def part(data: dict[str, Any] | bytes) -> str:
        raw = data if isinstance(data, bytes) else json.dumps(data).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    now = int(time.time())
    signing = f"{part({'alg': 'HS256', 'kid': 'rsa-1'})}." + part(
        {"iss": ISSUER, "aud": AUDIENCE, "exp": now + 300, "iat": now, "jti": "h"})
    return f"{signing}.{part(hmac.new(secret, signing.encode(), hashlib.sha256).digest())}"


@pytest.mark.parametrize(("ahead", "answered"), [(30, True), (-30, True), (120, False)])
def test_clock_skew_is_allowed_up_to_the_leeway(service: str, ahead: int,
                                                answered: bool) -> None:
    """The EHR's clock ``ahead`` seconds of the server's: iat and exp move with it."""
    now = int(time.time()) + ahead
    bearer = token(iat=now, exp=now + 300 if ahead >= 0 else now + 10)
    if answered:
        assert call(service, bearer).status_code == 200
    else:
        refused(call(service, bearer), "issued-in-future", bearer)


def test_expired_within_the_leeway_passes_beyond_it_fails(service: str) -> None:
    now = int(time.time())
    assert call(service, token(iat=now - 200, exp=now - 30)).status_code == 200
    late = token(iat=now - 200, exp=now - 90)
    refused(call(service, late), "expired", late)


def test_static_tokens_keep_the_rest_api_and_discovery_only(service: str) -> None:
    static = AUTH["Authorization"].split()[1]
    refused(call(service, static), "malformed", static)
    no_token = httpx.post(f"{service}/cds-services/{SIGN}",
                          json=hook_request("order-sign", CT_HEAD), timeout=20)
    assert no_token.status_code == 401
    assert httpx.get(f"{service}/cds-services", headers=AUTH).status_code == 200
    signed = {"Authorization": f"Bearer {token(key=EC_KEY, alg='ES384', kid='ec-1')}"}
    assert httpx.get(f"{service}/cds-services", headers=signed).status_code == 200
    priors = httpx.get(f"{service}/v1/priors", params={"name": "MUELLER^HANS"},
                       headers=signed, timeout=20)
    assert priors.status_code == 401


def test_an_unknown_kid_refetches_the_jwks_at_a_bounded_rate(service: str,
                                                             jwks: Jwks) -> None:
    assert call(service, token()).status_code == 200  # the set is fetched and cached
    time.sleep(1.1)
    before = jwks.fetches
    rotated = token(key=NEW_KEY, kid="rsa-2")
    refused(call(service, rotated), "unknown-key", rotated)
    assert jwks.fetches == before + 1
    for _ in range(5):  # made-up key ids do not make fetches
        made_up = token(key=NEW_KEY, kid=str(uuid.uuid4()))
        refused(call(service, made_up), "unknown-key", made_up)
    assert jwks.fetches == before + 1
    jwks.keys = [_jwk(NEW_KEY, "rsa-2"), _jwk(EC_KEY, "ec-1")]  # the EHR rotates its key
    time.sleep(1.1)
    assert call(service, token(key=NEW_KEY, kid="rsa-2")).status_code == 200
    assert jwks.fetches == before + 2
    retired = token(kid="rsa-1")
    time.sleep(1.1)
    refused(call(service, retired), "unknown-key", retired)
