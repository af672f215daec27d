"""What every request passes before a handler: tokens, body limits, content type, one error shape.

:class:`Guard` is plain ASGI middleware (no per-request task or copy of the body beyond the
limit): it answers 401 to a missing or unknown bearer token without saying which (on the CDS
Hooks paths, when CDS clients are configured, to a JWT that :class:`~.cds_jwt.CdsAuth` does
not accept, saying why), 413 to a body over the limit, 408 (and closes the connection) to a
body that takes longer than ``body_seconds`` to arrive, 415 to a POST that is not JSON, and
records the caller's name for the audit log. Its access log lines carry the method, path
(never the query string, which holds the patient's demographics in ``GET /v1/priors``),
status and time, escaped (:func:`dedup.printable.printable`): a decoded path such as
``/x%0AFORGED`` cannot forge a line. How long the headers may take is bounded before any of
this runs, by the server (:mod:`dedup.service.limits`).

Every error, here and in the handlers, has one JSON shape::

    {"error": {"status": 400, "code": "invalid-request", "message": "...", "problems": [...]}}

Under ``/cds-services`` the same object also carries ``resourceType: OperationOutcome`` and
``issue``, as the CDS Hooks specification asks of non-2xx responses; under ``/fhir`` an error
is a FHIR OperationOutcome alone (``application/fhir+json``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from starlette.responses import Response

from dedup.printable import printable
from dedup.service.cds_jwt import CdsAuth, Refused
from dedup.service.fhir_resources import FHIR_JSON, operation_outcome

log = logging.getLogger("dedup.service")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Paths anyone may read: liveness, the API documentation and the schedulers' page's static
#: files (no patient data; what the page asks needs a token).
PUBLIC_PATHS = frozenset({"/healthz", "/docs", "/docs/oauth2-redirect", "/openapi.json",
                          "/redoc", "/", "/schedule", "/schedule/schedule.js",
                          "/schedule/schedule.css"})
_JSON_TYPE = re.compile(r"^application/([a-z0-9.+-]+\+)?json\s*(;.*)?$", re.IGNORECASE)
_ISSUE_CODES = {401: "security", 403: "security", 404: "not-found", 412: "required",
                413: "too-long", 415: "not-supported", 503: "transient"}


def error_body(status: int, code: str, message: str, problems: Iterable[str] = (), *,
               cds: bool = False, fhir: bool = False) -> dict[str, Any]:
    """The one error shape (plus an OperationOutcome on CDS Hooks paths; only one on FHIR's)."""
    if fhir:
        return operation_outcome([message, *problems], status=status)
    body: dict[str, Any] = {"error": {"status": status, "code": code, "message": message}}
    if problems:
        body["error"]["problems"] = list(problems)
    if cds:
        body["resourceType"] = "OperationOutcome"
        body["issue"] = [{"severity": "error",
                          "code": _ISSUE_CODES.get(status, "invalid" if status < 500
                                                   else "exception"),
                          "diagnostics": message}]
    return body


def is_cds(path: str) -> bool:
    """Whether ``path`` belongs to the CDS Hooks service."""
    return path == "/cds-services" or path.startswith("/cds-services/")


def is_fhir(path: str) -> bool:
    """Whether ``path`` belongs to the FHIR endpoint (:mod:`dedup.service.fhir`)."""
    return path == "/fhir" or path.startswith("/fhir/")


class Guard:
    """ASGI middleware: authentication, body limit, JSON content type, access log."""

    def __init__(self, app: ASGIApp, tokens: dict[bytes, str], max_body: int,
                 body_seconds: float = 30.0, cds_auth: CdsAuth | None = None) -> None:
        self.app = app
        self.tokens = tokens
        self.max_body = max_body
        self.body_seconds = body_seconds
        self.cds_auth = cds_auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse, or pass the request on (with its buffered body) and log it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [0]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        refusal = await self._refuse(scope)
        if refusal is None and scope["method"] in ("POST", "PUT", "PATCH"):
            try:
                async with asyncio.timeout(self.body_seconds):
                    refusal, receive = await self._buffer(scope, receive)
            except TimeoutError:
                refusal = (408, "request-timeout", "the request body took longer than "
                           f"{self.body_seconds:g} s to arrive")
        if refusal is not None:
            await _respond(sending, scope, *refusal)
        else:
            await self.app(scope, receive, sending)
        elapsed = (time.perf_counter() - started) * 1000
        level = logging.DEBUG if status[0] < 400 else logging.INFO
        log.log(level, "%s %s %d %.1f ms client=%s", printable(scope["method"]),
                printable(scope["path"]), status[0], elapsed,
                printable(scope.get("state", {}).get("client", "-")))

    async def _refuse(self, scope: Scope) -> tuple[int, str, str] | None:
        if scope["path"] in PUBLIC_PATHS:
            return None
        headers = dict(scope["headers"])
        auth = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        digest = hashlib.sha256(token.encode("latin-1")).digest()
        name = next((n for d, n in self.tokens.items() if hmac.compare_digest(d, digest)), None)
        if self.cds_auth is not None and is_cds(scope["path"]) and not (
                name is not None and scope["path"] == "/cds-services"):  # discovery: either
            if scheme.lower() != "bearer" or not token:
                return 401, "unauthorized", "a CDS Hooks JWT signed by a configured client " \
                    "is required"
            try:
                name = await self.cds_auth.caller(token, scope["path"])
            except Refused as exc:
                log.info("CDS Hooks JWT refused: %s", exc.reason)
                code = "unauthorized" if exc.status == 401 else "unavailable"
                return exc.status, code, f"{exc.reason}: {exc}"
        elif scheme.lower() != "bearer" or name is None:
            return 401, "unauthorized", "a valid bearer token is required"
        scope.setdefault("state", {})["client"] = name
        if scope["method"] in ("POST", "PUT", "PATCH"):
            kind = headers.get(b"content-type", b"").decode("latin-1")
            if not _JSON_TYPE.match(kind.strip()):
                return 415, "unsupported-media-type", "send the body as application/json"
        return None

    async def _buffer(self, scope: Scope, receive: Receive
                      ) -> tuple[tuple[int, str, str] | None, Receive]:
        """Read the whole body (bounded) so the handler never sees more than the limit."""
        too_big = (413, "payload-too-large",
                   f"the request body exceeds the limit of {self.max_body} bytes")
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or len(length) > 18
                                   or int(length) > self.max_body):  # bytes: ASCII digits
            return too_big, receive
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return (400, "invalid-request", "the client disconnected"), receive
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return too_big, receive
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return None, replay


async def _respond(send: Send, scope: Scope, status: int, code: str, message: str) -> None:
    fhir = is_fhir(scope["path"])
    payload = json.dumps(error_body(status, code, message, cds=is_cds(scope["path"]),
                                    fhir=fhir), separators=(",", ":")).encode()
    headers = [(b"content-type", FHIR_JSON.encode() if fhir else b"application/json"),
               (b"content-length", str(len(payload)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="dedup"'))
    if status == 408:  # the rest of a late body is not waited for
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None,
                  media_type: str = "application/json") -> Response:
    """Serialise ``data`` (no FastAPI encoder pass: results are plain values already)."""
    return Response(json.dumps(data, separators=(",", ":"), default=str).encode(), status,
                    headers=headers, media_type=media_type)


class ApiError(Exception):
    """An error a handler answers with: status, code, message and problems."""

    def __init__(self, status: int, code: str, message: str, problems: Iterable[str] = ()
                 ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.problems = tuple(problems)
