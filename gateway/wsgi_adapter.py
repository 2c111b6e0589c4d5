"""Serving a WSGI app (Flask, Django, ...) from the event loop on the gateway's shared pool.

It reuses a2wsgi's environ building and request-body stream, and changes two things about how
a request crosses into the pool (a2wsgi's ``WSGIMiddleware`` makes a private pool per app,
reads the body from the worker thread and hands every response chunk back to the loop
separately):

- the request body is read on the event loop (up to ``BUFFER_BYTES``) before a pool thread
  is taken, so a client that uploads slowly costs no thread: 32 slow clients cannot starve
  every WSGI plugin of the shared pool;
- the response is collected in the thread (up to ``BUFFER_BYTES``) and handed back in one
  step; only a larger or streaming response goes chunk by chunk, with back-pressure.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Executor
from types import TracebackType
from typing import Any

from a2wsgi.wsgi import build_environ

from .compat import a2wsgi_body
from .types import Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

#: request and response bodies up to this size are buffered rather than streamed
BUFFER_BYTES = 1 << 20

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
_ERROR_BODY = b"Internal Server Error"
_ERROR_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", str(len(_ERROR_BODY)).encode()),
]


class WSGIAdapter:
    """An ASGI app serving one WSGI app on a shared executor."""

    def __init__(self, app: WSGIApp, executor: Executor) -> None:
        self.app = app
        self.executor = executor

    def __repr__(self) -> str:
        return f"WSGIAdapter({self.app!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            # A WSGI app cannot take a WebSocket: refuse the handshake (HTTP 403).
            await receive()
            await send({"type": "websocket.close", "code": 1003})
        elif scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        chunks: list[bytes] = []
        size, more = 0, True
        while more and size <= BUFFER_BYTES:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = message.get("more_body", False)
        # A larger body streams from the thread, as a2wsgi does.
        body = a2wsgi_body(loop, receive, b"".join(chunks), more)
        exchange = _Exchange(self.app, build_environ(scope, body), loop, send)  # type: ignore[arg-type]
        context = contextvars.copy_context()
        await loop.run_in_executor(self.executor, context.run, exchange.run)
        if exchange.streaming:
            if not exchange.client_gone:
                await send({"type": "http.response.body", "body": b""})
            return
        await send(
            {"type": "http.response.start", "status": exchange.status, "headers": exchange.headers}
        )
        await send({"type": "http.response.body", "body": b"".join(exchange.buffered)})


class _ClientGone(Exception):
    """The client went away while a streamed response was being sent."""


class _Exchange:
    """One request, run in a pool thread: the app's status, headers and body chunks.

    Chunks are buffered until ``BUFFER_BYTES``; past that the response is started and the
    rest is sent chunk by chunk, each waiting for the event loop (back-pressure).
    """

    def __init__(
        self,
        app: WSGIApp,
        environ: dict[str, Any],
        loop: asyncio.AbstractEventLoop,
        send: Send,
    ) -> None:
        self.app = app
        self.environ = environ
        self.loop = loop
        self._send = send
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.buffered: list[bytes] = []
        self.size = 0
        self.streaming = False
        self.client_gone = False

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None and self.streaming:
            raise exc_info[1].with_traceback(exc_info[2])  # too late to change the status
        self.status = int(status.split(" ", 1)[0])
        self.headers = [
            (name.strip().lower().encode("latin-1"), value.strip().encode("latin-1"))
            for name, value in headers
        ]
        return self.write

    def write(self, chunk: bytes) -> None:
        """A body chunk, from the iterable or from the legacy ``write()`` callable."""
        if not chunk:
            return
        if self.streaming:
            self._call({"type": "http.response.body", "body": chunk, "more_body": True})
            return
        self.buffered.append(chunk)
        self.size += len(chunk)
        if self.size > BUFFER_BYTES:
            self.streaming = True
            self._call(
                {"type": "http.response.start", "status": self.status, "headers": self.headers}
            )
            body = b"".join(self.buffered)
            self.buffered.clear()
            self._call({"type": "http.response.body", "body": body, "more_body": True})

    def run(self) -> None:
        iterable: Iterable[bytes] | None = None
        try:
            iterable = self.app(self.environ, self.start_response)
            for chunk in iterable:
                self.write(chunk)
        except _ClientGone:
            self.client_gone = True
        except Exception:
            logger.exception("unhandled error in WSGI app %r", self.app)
            if not self.streaming:  # once headers are out, the response can only end
                self.status, self.headers = 500, list(_ERROR_HEADERS)
                self.buffered = [_ERROR_BODY]
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()

    def _call(self, message: Message) -> None:
        try:
            asyncio.run_coroutine_threadsafe(_await(self._send(message)), self.loop).result()
        except (OSError, RuntimeError) as exc:  # the connection is closed
            raise _ClientGone from exc


async def _await(awaitable: Awaitable[None]) -> None:
    await awaitable
