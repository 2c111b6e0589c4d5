"""Prototype (c) of docs/ISOLATION.md: the gateway's side of a plain HTTP reverse-proxy hop
to a worker serving HTTP on a Unix socket (``BENCH_UPSTREAM``), as an ASGI app.

Kept only to measure the transport that was not chosen: keep-alive connections in a pool,
the request head written by hand, the response parsed with httptools (uvicorn's parser).
GET-sized requests only (the body is read whole); no timeouts, no error handling.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from typing import Any

import httptools

UPSTREAM = os.environ.get("BENCH_UPSTREAM", "/tmp/upstream.sock")
_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"proxy-connection"}


class _Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: Any = None
        self.items: deque[Any] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.closed = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._push(None)

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name not in _HOP:
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        self._push({"type": "http.response.start", "status": status, "headers": self.headers})
        self.headers = []

    def on_body(self, body: bytes) -> None:
        self._push({"type": "http.response.body", "body": body, "more_body": True})

    def on_message_complete(self) -> None:
        self._push({"type": "http.response.body", "body": b"", "more_body": False})

    def _push(self, item: Any) -> None:
        self.items.append(item)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def next(self) -> Any:
        while not self.items:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        return self.items.popleft()


class Proxy:
    def __init__(self) -> None:
        self.pool: list[_Conn] = []

    async def _conn(self) -> _Conn:
        while self.pool:
            conn = self.pool.pop()
            if not conn.closed:
                return conn
        _, conn = await asyncio.get_running_loop().create_unix_connection(_Conn, UPSTREAM)
        return conn

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        target = scope["raw_path"] or scope["path"].encode()
        if scope["query_string"]:
            target += b"?" + scope["query_string"]
        head = [scope["method"].encode(), b" ", target, b" HTTP/1.1\r\n"]
        for name, value in scope["headers"]:
            if name not in _HOP and name != b"content-length":
                head += [name, b": ", value, b"\r\n"]
        head.append(b"content-length: %d\r\n\r\n" % len(body))
        conn = await self._conn()
        conn.transport.write(b"".join(head) + body)
        while True:
            item = await conn.next()
            if item is None:
                raise ConnectionError("upstream closed")
            await send(item)
            if item["type"] == "http.response.body" and not item["more_body"]:
                break
        self.pool.append(conn)


app = Proxy()
