"""Bounds the server holds every connection to: header time and size, connections open.

A client that opens many connections and sends its headers a byte at a time holds them for
ever unless the server bounds how long headers may take. uvicorn does not: its keep-alive
timer only runs between requests and is cancelled by the first byte received, and ASGI
middleware only runs once the headers are in, too late to bound them. So the HTTP protocol is
extended here (:func:`bounded_protocol`):

- a request's headers must be complete within ``check_header_seconds`` of the connection
  opening, or of the end of the previous response on a kept-alive connection; otherwise the
  connection is closed;
- headers are parsed by h11, which buffers at most :data:`MAX_HEADER_BYTES` of a request
  whose headers are not complete yet (more is a 400), where the httptools parser takes
  headers of any size;
- at most ``check_max_connections`` connections are open at once, and at most
  ``check_max_client_connections`` from one address (0: no limit per address); a connection
  beyond either is closed as soon as it is accepted.

The body's time is bounded once the headers are in, by :class:`dedup.service.guard.Guard`.
A proxy in front (``deploy/nginx-dedup.conf``) adds TLS and per-client limits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from dedup.config import Settings

__all__ = ["MAX_HEADER_BYTES", "bounded_protocol"]

#: Largest request line and headers accepted (bytes): h11's own default, made explicit.
MAX_HEADER_BYTES = 16 * 1024
log = logging.getLogger("dedup.service")


class _BoundedProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers and connection caps."""

    header_seconds = 10.0
    max_connections = 1000
    max_client_connections = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        inner = self.app

        async def app(scope: Any, receive: Any, send: Any) -> None:
            self._disarm()  # the headers are in: the request runs
            await inner(scope, receive, send)

        self.app = app

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Accept the connection, or close it at once when over a limit; start the deadline."""
        super().connection_made(transport)
        if self._over_limits():
            transport.close()
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the deadline with the connection."""
        self._disarm()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        """Give the next request on this connection its own deadline."""
        self._arm()  # first: a pipelined request starts (and disarms it) inside
        super().on_response_complete()

    def _over_limits(self) -> bool:
        if len(self.connections) > self.max_connections:
            _warn_refused(f"{len(self.connections) - 1} connections open "
                          "(check_max_connections)")
            return True
        if self.max_client_connections and self.client:
            same = sum(_host(other) == self.client[0] for other in self.connections)
            if same > self.max_client_connections:
                _warn_refused(f"{same - 1} connections open from one address "
                              "(check_max_client_connections)")
                return True
        return False

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            log.debug("connection closed: no complete request headers within %g s",
                      self.header_seconds)
            self.transport.close()


def _host(protocol: object) -> str | None:
    """The address a connection comes from (``None`` when unknown)."""
    client = getattr(protocol, "client", None)
    return str(client[0]) if client else None


_warned = [0.0]


def _warn_refused(why: str) -> None:
    """Log refused connections at most once a minute (a flood must not flood the log)."""
    now = time.monotonic()
    if now - _warned[0] >= 60:
        _warned[0] = now
        log.warning("connections refused: %s", why)


def bounded_protocol(settings: Settings) -> type[H11Protocol]:
    """The HTTP protocol class for ``uvicorn.run(http=...)``, with the settings' bounds.

    Pass ``h11_max_incomplete_event_size=MAX_HEADER_BYTES`` to uvicorn with it.
    """
    return type("BoundedProtocol", (_BoundedProtocol,), {
        "header_seconds": settings.check_header_seconds,
        "max_connections": settings.check_max_connections,
        "max_client_connections": settings.check_max_client_connections})
