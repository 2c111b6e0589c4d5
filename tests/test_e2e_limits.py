"""Bad input is refused at the door (contract 13): header limits (431, 414) on the raw bytes,
memory flat, connection closed; body limits (413) per plugin, before the body is read."""

from __future__ import annotations

import select
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from conftest import FIXTURES, GatewayProcess
from rawhttp import (
    PeakRSS,
    connect,
    exchange,
    header,
    read_all,
    read_response,
    recv_chunk,
    send,
    status,
)

MiB = 1 << 20


def add_plugin(tmp_path: Path, fixture: str, name: str | None = None, manifest: str = "") -> None:
    """Put a copy of fixture plugin ``fixture`` (with ``manifest`` as plugin.yaml) in the
    plugins folder the gateway will be started on."""
    target = tmp_path / "plugins" / (name or fixture)
    shutil.copytree(FIXTURES / fixture, target, ignore=shutil.ignore_patterns("__pycache__"))
    if manifest:
        (target / "plugin.yaml").write_text(manifest)


def get(path: str, *headers: bytes) -> bytes:
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + b"".join(headers) + b"\r\n"


def test_header_lines_and_fields_over_the_limits_get_431_and_the_connection_is_closed(
    start_gateway: Callable[..., GatewayProcess],
) -> None:
    gw = start_gateway("held-asgi")
    # "X-Big: " and its value make a line of exactly max_header_bytes (8190): accepted.
    at_limit = b"X-Big: " + b"a" * (8190 - 7) + b"\r\n"
    assert status(exchange(gw.port, get("/held-asgi/", at_limit, b"Connection: close\r\n"))) == 200
    reply = exchange(gw.port, get("/held-asgi/", b"X-Big: " + b"a" * 8190 + b"\r\n"))
    assert status(reply) == 431, reply[:300]
    assert header(reply, b"connection") == b"close"
    assert b"max_header_bytes" in reply
    # 100 header fields (Host is one) are fine, 101 are not.
    fields = [b"X-%d: 1\r\n" % i for i in range(98)]
    assert status(exchange(gw.port, get("/held-asgi/", *fields, b"Connection: close\r\n"))) == 200
    reply = exchange(gw.port, get("/held-asgi/", *fields, b"X-98: 1\r\n", b"X-99: 1\r\n"))
    assert status(reply) == 431, reply[:300]
    assert b"max_headers" in reply
    # A request line over the limit is a URI too long.
    reply = exchange(gw.port, get("/held-asgi/" + "a" * 9000))
    assert status(reply) == 414, reply[:300]
    # The cases: an 8 MB header line and 10,000 fields. The gateway stops reading
    # them at the limit, so the client may see its connection reset before the 431.
    for request in (
        get("/held-asgi/", b"X-Big: " + b"a" * 8_000_000 + b"\r\n"),
        get("/held-asgi/", *(b"X-%d: 1\r\n" % i for i in range(10_000))),
    ):
        reply = exchange(gw.port, request)
        assert status(reply) in (431, None), reply[:300]
        assert b"200 OK" not in reply
    assert gw.client.get("/held-asgi/").text == "ok"


def test_300_mb_of_unterminated_header_is_cut_short_and_memory_stays_flat(
    start_gateway: Callable[..., GatewayProcess],
) -> None:
    gw = start_gateway("held-asgi")
    with PeakRSS(gw.pid) as memory, connect(gw.port) as sock:
        send(sock, b"GET /held-asgi/ HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        sent, chunk = 0, b"a" * MiB
        deadline = time.monotonic() + 30
        while sent < 300 * MiB and time.monotonic() < deadline and send(sock, chunk):
            sent += len(chunk)
        reply = read_all(sock)
    # Loopback socket buffers hold a few MiB; the gateway itself reads little past 8 KiB.
    assert sent < 32 * MiB, f"{sent / MiB:.0f} MiB sent before the gateway refused"
    assert status(reply) in (431, None), reply[:300]
    assert memory.growth < 20, f"RSS grew by {memory.growth:.0f} MiB"
    assert gw.client.get("/held-asgi/").text == "ok"


def test_a_plugin_may_tighten_its_own_header_limits(
    tmp_path: Path, start_gateway: Callable[..., GatewayProcess]
) -> None:
    add_plugin(tmp_path, "held-asgi", "strict", "limits: {max_headers: 10}\n")
    gw = start_gateway("held-asgi")
    headers = {f"x-{i}": "1" for i in range(12)}
    strict = gw.client.get("/strict/", headers=headers)
    assert strict.status_code == 431
    assert "strict" in strict.json()["detail"]
    assert gw.client.get("/held-asgi/", headers=headers).text == "ok"
    assert gw.client.get("/strict/").text == "ok"


def test_a_declared_body_over_the_limit_gets_413_before_the_body_is_sent(
    start_gateway: Callable[..., GatewayProcess],
) -> None:
    gw = start_gateway("held-flask")
    with connect(gw.port) as sock:
        # Only the head: a 413 that comes back now was decided without the body.
        send(
            sock,
            b"POST /held-flask/echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
            % (200 * MiB),
        )
        reply = read_response(sock, timeout=10)
    assert status(reply) == 413, reply[:300]
    assert b"max_body_bytes" in reply


def test_a_flask_view_reading_a_200_mb_body_gets_413_and_memory_stays_flat(
    start_gateway: Callable[..., GatewayProcess],
) -> None:
    gw = start_gateway("held-flask")
    body = b"x" * (200 * MiB)
    with PeakRSS(gw.pid) as memory:
        response = httpx.post(f"{gw.base_url}/held-flask/echo", content=body, timeout=60)
    assert response.status_code == 413, response.text
    assert memory.growth < 40, f"RSS grew by {memory.growth:.0f} MiB"
    # Under the limit, the body reaches the view whole.
    small = httpx.post(f"{gw.base_url}/held-flask/echo", content=b"y" * (2 * MiB), timeout=30)
    assert small.json() == {"received": 2 * MiB}


def test_a_chunked_body_gets_413_as_soon_as_it_passes_the_plugin_limit(
    tmp_path: Path, start_gateway: Callable[..., GatewayProcess]
) -> None:
    add_plugin(tmp_path, "held-asgi", "small-bodies", f"limits: {{max_body_bytes: {MiB}}}\n")
    gw = start_gateway("held-asgi")
    reply, sent, finished = b"", 0, False
    with connect(gw.port) as sock:
        send(
            sock,
            b"POST /small-bodies/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        )
        piece = b"x" * 65536
        while sent < 64 * MiB:
            if select.select([sock], [], [], 0)[0]:
                break  # the gateway answered while the body was still coming
            if not send(sock, b"%x\r\n%s\r\n" % (len(piece), piece)):
                break
            sent += len(piece)
        else:
            finished = send(sock, b"0\r\n\r\n")
        reply = read_all(sock)
    assert status(reply) == 413, reply[:300]
    assert not finished, "the whole body was sent before any answer"
    assert header(reply, b"connection") == b"close"
    # The limit is the plugin's own: the same plugin code under its default limit takes it.
    response = httpx.post(f"{gw.base_url}/held-asgi/echo", content=b"y" * (2 * MiB), timeout=30)
    assert response.text == str(2 * MiB)


def test_slow_heads_get_408_and_idle_connections_are_closed_while_others_are_served(
    start_gateway: Callable[..., GatewayProcess],
) -> None:
    """Slowloris: 200 connections each holding a request head open, 50 sending nothing.
    With server.header_timeout_s 1, every one is answered 408 or closed about a second
    later; a normal client is served all along."""
    gw = start_gateway("held-asgi", env={"GATEWAY_SERVER_HEADER_TIMEOUT_S": "1"})
    started = time.monotonic()
    slow = [connect(gw.port) for _ in range(200)]
    idle = [connect(gw.port) for _ in range(50)]
    for sock in slow:
        send(sock, b"GET /held-asgi/ HTTP/1.1\r\nHost: x\r\nX-Trickle: ")
    with httpx.Client(base_url=gw.base_url, timeout=10) as client:
        assert client.get("/held-asgi/").status_code == 200
    replies = until_closed(slow + idle, deadline=started + 8)
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 8, elapsed
    assert {status(reply) for reply in replies[:200]} == {408}, replies[:3]
    assert all(header(reply, b"connection") == b"close" for reply in replies[:200])
    assert replies[200:] == [b""] * 50
    for sock in slow + idle:
        sock.close()
    assert httpx.get(f"{gw.base_url}/held-asgi/", timeout=10).status_code == 200


def until_closed(socks: list[socket.socket], deadline: float) -> list[bytes]:
    """What the server sent on each of ``socks`` until it closed them all; fails at
    ``deadline`` (monotonic) if some are still open."""
    replies = {sock: b"" for sock in socks}
    open_ = set(socks)
    while open_:
        left = deadline - time.monotonic()
        assert left > 0, f"{len(open_)} of {len(socks)} connections still open"
        readable, _, _ = select.select(list(open_), [], [], min(left, 0.5))
        for sock in readable:
            chunk = recv_chunk(sock)
            if chunk:
                replies[sock] += chunk
            else:
                open_.discard(sock)
    return [replies[sock] for sock in socks]
