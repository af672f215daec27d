"""Slow and greedy clients against a real ``dedup serve``: header and body time, connections."""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.service.conftest import AUTH, TOKEN, running_server
from tests.service.test_http import HANS

BOUND = 1.0  # check_header_seconds and check_body_seconds of the servers below
SLACK = 2.5  # scheduling on a shared machine: the bound, not the test, is what is measured
REQUEST_START = b"GET /v1/priors HTTP/1.1\r\nHost: dedup\r\n"


@pytest.fixture(scope="module")
def bounded(archive: Path) -> Iterator[str]:
    with running_server(archive, "bounded", DEDUP_CHECK_HEADER_SECONDS=str(BOUND),
                        DEDUP_CHECK_BODY_SECONDS=str(BOUND)) as url:
        yield url


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed ``sock`` (an end of file or a reset; it sends nothing else)."""
    try:
        return sock.recv(65536) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


def trickle(socks: dict[socket.socket, float], url: str, seconds: float
            ) -> tuple[dict[socket.socket, float], list[int]]:
    """Send each socket a header byte every 0.25 s; ask a real question meanwhile.

    Returns:
        When the server closed each socket, and the status of the questions asked meanwhile.

    """
    selector = selectors.DefaultSelector()
    for sock in socks:
        selector.register(sock, selectors.EVENT_READ)
    closed: dict[socket.socket, float] = {}
    answers: list[int] = []
    started = last_byte = time.monotonic()
    while len(closed) < len(socks) and time.monotonic() - started < seconds:
        for key, _ in selector.select(timeout=0.05):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if closed_by_server(sock):
                closed[sock] = time.monotonic()
                selector.unregister(sock)
        if time.monotonic() - last_byte >= 0.25:
            last_byte = time.monotonic()
            for sock in socks.keys() - closed.keys():
                with contextlib.suppress(OSError):  # closed meanwhile: the selector says so
                    sock.send(b"X")
        if not answers and time.monotonic() - started > BOUND / 2:
            answers.append(httpx.get(f"{url}/v1/priors", params=HANS, headers=AUTH,
                                     timeout=10).status_code)
    selector.close()
    return closed, answers


def test_slow_headers_are_cut_off_within_the_bound_and_others_still_answered(
        bounded: str) -> None:
    socks: dict[socket.socket, float] = {}
    try:
        for _ in range(800):  # as many as the attacker, without a token
            sock = socket.create_connection(address(bounded), timeout=10)
            sock.setblocking(False)
            sock.send(REQUEST_START)
            socks[sock] = time.monotonic()
        closed, answers = trickle(socks, bounded, BOUND + SLACK + 2)
        assert answers == [200]  # a normal request is answered during the attack
        assert len(closed) == len(socks), f"{len(socks) - len(closed)} slow connections open"
        lasted = [closed[sock] - opened for sock, opened in socks.items()]
        assert min(lasted) >= BOUND * 0.9 and max(lasted) <= BOUND + SLACK
        print(f"\n800 slow-header connections closed after {min(lasted):.2f}-"
              f"{max(lasted):.2f} s (bound {BOUND} s)")
    finally:
        for sock in socks:
            sock.close()


def test_the_next_request_on_a_kept_alive_connection_has_the_same_bound(bounded: str) -> None:
    with socket.create_connection(address(bounded), timeout=10) as sock:
        query = httpx.QueryParams(HANS)
        sock.sendall(f"GET /v1/priors?{query} HTTP/1.1\r\nHost: dedup\r\n"
                     f"Authorization: Bearer {TOKEN}\r\n\r\n".encode())
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        answered = time.monotonic()
        sock.sendall(REQUEST_START)  # the next request's headers never end
        sock.setblocking(False)
        closed, _ = trickle({sock: answered}, bounded, BOUND + SLACK)
        assert sock in closed and BOUND * 0.9 <= closed[sock] - answered <= BOUND + SLACK


def test_a_slow_body_is_a_408_within_the_bound(bounded: str) -> None:
    with socket.create_connection(address(bounded), timeout=BOUND + SLACK) as sock:
        sock.sendall(f"POST /v1/outcomes HTTP/1.1\r\nHost: dedup\r\nAuthorization: Bearer "
                     f"{TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"
                     "\r\n{".encode())
        started = time.monotonic()
        reply = sock.recv(65536)
        waited = time.monotonic() - started
        while chunk := sock.recv(65536):  # then the server closes the connection
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 408 ") and b"request-timeout" in reply
        assert BOUND * 0.9 <= waited <= BOUND + SLACK
        assert b"connection: close" in reply.lower()


def test_oversized_headers_are_a_400(bounded: str) -> None:
    with socket.create_connection(address(bounded), timeout=10) as sock:
        with contextlib.suppress(ConnectionError):  # refused before it is all sent
            sock.sendall(REQUEST_START + b"X-Filler: " + b"a" * 200_000 + b"\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 400 ")


def test_connections_beyond_the_limits_are_closed_at_once(archive: Path) -> None:
    with running_server(archive, "capped", DEDUP_CHECK_MAX_CONNECTIONS="6",
                        DEDUP_CHECK_MAX_CLIENT_CONNECTIONS="3") as url:
        host, port = address(url)
        held: list[socket.socket] = []

        def connect(source: str) -> socket.socket:
            sock = socket.create_connection((host, port), timeout=2,
                                            source_address=(source, 0))
            held.append(sock)
            return sock

        try:
            for source in ("127.0.0.1", "127.0.0.2"):  # one address: three connections
                for _ in range(3):
                    connect(source).setblocking(False)
            time.sleep(0.3)  # all accepted and still open
            assert not any(closed_by_server(sock) for sock in held)
            for source in ("127.0.0.2", "127.0.0.3"):  # a fourth from one, a seventh in all
                extra = connect(source)
                assert extra.recv(1) == b""  # closed by the server at once
            held.pop().close()
            held[0].close()
            time.sleep(0.3)  # one place free again: a question is answered
            assert httpx.get(f"{url}/v1/priors", params=HANS, headers=AUTH,
                             timeout=10).status_code == 200
        finally:
            for sock in held:
                sock.close()
