"""Serving a WSGI app (Flask, Django, ...) from the event loop on the gateway's shared pool.

Built on a2wsgi: its ``build_environ`` makes the environ from the ASGI scope. Its
``WSGIMiddleware`` is not used: it makes a private pool per app, takes a pool thread before
the body has arrived, and hands every response block to the loop separately, waiting each
time. Instead, per request:

- the body is received on the event loop up to ``BUFFER_BYTES`` before a pool thread is
  taken, so a client that uploads slowly costs no thread; the rest is read from the thread
  on demand by :class:`~gateway.wsgi.input.WSGIInput` (which replaces a2wsgi's ``Body``;
  its docstring says why);
- the app runs on the one shared executor, and each block it yields or ``write()``s reaches
  the client without waiting for the next (:mod:`gateway.wsgi.response`); a small response
  costs one thread hop and one loop wake-up, as the blocks ready together go out together;
- an error before the response started is a logged 500; after it started, the connection is
  cut (raising :class:`ResponseAborted` makes the server close it without ending the body,
  and log the app's traceback once): a client must not take half a body for a whole one;
- a client that disconnects mid-stream stops the app at its next block; ``close()`` of the
  app's iterable is called exactly once in every case.

The environ is gunicorn's (``gunicorn/http/wsgi.py``, gthread worker, checked with gunicorn
27): ``wsgi.multithread`` true, ``wsgi.multiprocess`` true only with several workers,
``wsgi.run_once`` false, ``wsgi.input_terminated`` true (the body ends where the request
does, chunked or not: Werkzeug reads a body without ``Content-Length`` only then),
``wsgi.errors`` the process's stderr (a text stream), ``wsgi.file_wrapper`` the standard
library's, ``SERVER_SOFTWARE`` ``plugin-gateway/<version>``. Differences left:
gunicorn's own keys (``RAW_URI``, ``gunicorn.socket``, ``wsgi.early_hints``) are absent;
a2wsgi adds ``asgi.scope``; ``SERVER_NAME``/``SERVER_PORT`` come from the socket address,
not from the ``Host`` header (as gunicorn on TCP); ``PATH_INFO`` is decoded by uvicorn
rather than by gunicorn's ``unquote_to_wsgi_str`` (same result); ``wsgi.file_wrapper``
blocks are streamed like any other, not sent with ``sendfile``.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib.metadata
import logging
import sys
from concurrent.futures import Executor, Future
from functools import partial
from typing import Any
from wsgiref.util import FileWrapper

from a2wsgi.wsgi import build_environ

from ..types import Receive, Scope, Send
from .input import ClientDisconnected, WSGIInput
from .response import Channel, End, Event, Responder, Start, WSGIApp

logger = logging.getLogger(__name__)

#: request bodies up to this size are received before the app runs; a streamed response
#: lets the app run this far ahead of the client
BUFFER_BYTES = 1 << 20


def _server_software() -> str:
    try:
        return f"plugin-gateway/{importlib.metadata.version('plugin-gateway')}"
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return "plugin-gateway"


SERVER_SOFTWARE = _server_software()
_ERROR_BODY = b"Internal Server Error"
_ERROR_START = {
    "type": "http.response.start",
    "status": 500,
    "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(_ERROR_BODY)).encode()),
    ],
}


class ResponseAborted(Exception):
    """A WSGI app failed after its response had started: the connection is cut.

    Raised to the ASGI server, which logs it (with the app's error as its cause) and closes
    the connection without ending the body, so the client sees an incomplete response.
    """


class WSGIAdapter:
    """An ASGI app serving one WSGI app on a shared executor."""

    def __init__(
        self,
        app: WSGIApp,
        executor: Executor,
        *,
        multiprocess: bool = False,
        name: str | None = None,
    ) -> None:
        """``multiprocess``: the gateway runs several worker processes. ``name``: the
        plugin's, for its errors' log records (logger ``plugin.<name>``)."""
        self.app = app
        self.executor = executor
        self.multiprocess = multiprocess
        self.name = name or repr(app)
        self._log = logging.getLogger(f"plugin.{name}") if name else logger
        self._environ: dict[str, Any] = {
            "wsgi.multithread": True,
            "wsgi.multiprocess": multiprocess,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "wsgi.file_wrapper": FileWrapper,
            "SERVER_SOFTWARE": SERVER_SOFTWARE,
        }

    def __repr__(self) -> str:
        return f"WSGIAdapter({self.name})"

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
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body: bytes = message.get("body", b"")
        more: bool = message.get("more_body", False)
        if more:
            chunks, size = [body], len(body)
            while more and size <= BUFFER_BYTES:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                chunks.append(chunk)
                size += len(chunk)
                more = message.get("more_body", False)
            body = b"".join(chunks)
        wsgi_input = WSGIInput(body, more, loop, receive)
        environ: dict[str, Any] = build_environ(scope, wsgi_input)  # type: ignore[arg-type,assignment]
        environ.update(self._environ)
        environ["wsgi.errors"] = sys.stderr
        channel = Channel(loop, BUFFER_BYTES)
        responder = Responder(self.app, environ, channel)
        future = self.executor.submit(contextvars.copy_context().run, responder.run)
        future.add_done_callback(partial(_end_if_cancelled, channel))
        try:
            await self._respond(channel, wsgi_input, receive, send)
        finally:
            channel.close()  # if we leave early (cancelled), the app stops at its next block

    async def _respond(
        self, channel: Channel, wsgi_input: WSGIInput, receive: Receive, send: Send
    ) -> None:
        """Send what the app's thread puts on ``channel``, as it comes, until its ``End``."""
        started = False
        watcher: asyncio.Task[None] | None = None
        try:
            while True:
                events: list[Event] = await channel.get()
                end = events[-1]
                if isinstance(end, End):
                    events.pop()
                blocks: list[bytes] = []
                for event in events:
                    if isinstance(event, bytes):
                        blocks.append(event)
                    elif isinstance(event, Start):  # always before the first block
                        status, headers = event
                        await send(
                            {"type": "http.response.start", "status": status, "headers": headers}
                        )
                        started = True
                body = blocks[0] if len(blocks) == 1 else b"".join(blocks)
                if isinstance(end, End):
                    if watcher is not None:
                        watcher.cancel()
                    await self._end(end, started, body, send)
                    return
                if body:
                    await send({"type": "http.response.body", "body": body, "more_body": True})
                    channel.sent(len(body))
                if watcher is None and wsgi_input.received:
                    # A stream: notice the client leaving, to stop the app at its next block.
                    watcher = asyncio.create_task(_watch_disconnect(receive, channel))
        finally:
            if watcher is not None:
                watcher.cancel()

    async def _end(self, end: End, started: bool, body: bytes, send: Send) -> None:
        if end.error is None:
            if not end.gone:
                await send({"type": "http.response.body", "body": body})
            return
        if started:
            if body:
                await send({"type": "http.response.body", "body": body, "more_body": True})
            raise ResponseAborted(
                f"WSGI app of {self.name} failed after its response started; connection cut"
            ) from end.error
        if isinstance(end.error, ClientDisconnected):
            self._log.info("WSGI app of %s: %s", self.name, end.error)
        else:
            self._log.error("unhandled error in WSGI app of %s", self.name, exc_info=end.error)
        await send(_ERROR_START)
        await send({"type": "http.response.body", "body": _ERROR_BODY})


async def _watch_disconnect(receive: Receive, channel: Channel) -> None:
    """Once the request body has all arrived, the next message is the client leaving."""
    try:
        message = await receive()
    except Exception:  # the server has nothing more to say: nothing to watch
        return
    if message["type"] == "http.disconnect":
        channel.close()


def _end_if_cancelled(channel: Channel, future: Future[None]) -> None:
    if future.cancelled():  # the pool shut down before the request ran
        channel.finish(End(RuntimeError("the WSGI thread pool shut down before the request ran")))
