"""Failure paths of the running gateway: slow clients, malformed requests, SIGTERM with a
WSGI request that never returns. Each shows the gateway keeps serving and loses nothing."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from conftest import GatewayProcess, wait_for


def test_slow_uploads_do_not_take_the_wsgi_pool(
    start_gateway: Callable[..., GatewayProcess],
) -> None:
    # One pool thread: if a slow upload held it, nothing else WSGI could be served.
    gw = start_gateway("stuck", env={"GATEWAY_WSGI_THREADS": "1"})
    slow = [socket.create_connection(("127.0.0.1", gw.port)) for _ in range(3)]
    for sock in slow:
        sock.sendall(b"POST /stuck/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
    # Keep asking for a whole second while the uploads hang: each answer must come quickly.
    with httpx.Client(base_url=gw.base_url, timeout=3) as client:
        until = time.monotonic() + 1.0
        while time.monotonic() < until:
            assert client.get("/stuck/").text == "ok"
    for sock in slow:  # the slow clients finish, and get their whole answer
        sock.sendall(b"world")
        reply = b""
        while not reply.endswith(b"helloworld"):
            chunk = sock.recv(4096)
            assert chunk, reply
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 200")
        sock.close()


def test_malformed_requests_are_refused_and_serving_goes_on(
    start_gateway: Callable[..., GatewayProcess],
) -> None:
    gw = start_gateway("stuck")
    for garbage in (
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        b"\x00\xff" * 50,
    ):
        with socket.create_connection(("127.0.0.1", gw.port)) as sock:
            sock.sendall(garbage)
            sock.settimeout(5)
            try:
                reply = sock.recv(1024)
            except (ConnectionResetError, TimeoutError):
                reply = b""
            assert reply == b"" or reply.startswith(b"HTTP/1.1 400"), reply
    assert gw.client.get("/stuck/").text == "ok"
    assert gw.client.get("/_gateway/health").json() == {"status": "ok"}


def test_sigterm_exits_0_even_with_a_wsgi_thread_stuck(
    start_gateway: Callable[..., GatewayProcess], tmp_path: Path
) -> None:
    gw = start_gateway(
        "stuck",
        env={"GATEWAY_PLUGINS_DRAIN_TIMEOUT_S": "2", "STUCK_MARKER_DIR": str(tmp_path)},
    )
    threading.Thread(
        target=lambda: httpx.get(f"{gw.base_url}/stuck/stuck", timeout=60), daemon=True
    ).start()
    wait_for(lambda: (tmp_path / "stuck-entered").exists())
    started = time.monotonic()
    code = gw.stop(timeout=30)
    assert code == 0, gw.log()
    assert time.monotonic() - started < 2 + 8
    assert "still busy" in gw.log()
