"""The worker's end of the transport: runs the plugin's ASGI app for every stream.

This is the part of an ASGI server the worker still needs once the gateway has parsed HTTP:
a task per request, ``receive`` fed from ``REQUEST``/``MSG`` frames (pulled with ``WANT``),
``send`` turned into ``MSG`` frames (held back when the gateway has not credited the bytes),
``END`` when the app returns. Errors are logged here, under the plugin's name with the
request's id, as the gateway logs an in-process plugin's (``gateway.observability.access``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections import deque
from typing import Any

from ..observability.logs import REQUEST
from ..observability.request_ids import HEADER as REQUEST_ID_HEADER
from ..types import ASGIApp, Message
from . import transport as t

logger = logging.getLogger("gateway.isolation.worker")


def _request_id(scope: dict[str, Any]) -> str | None:
    """The ``X-Request-ID`` the gateway gave the request (it always gives one)."""
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            return bytes(value).decode("latin-1")
    return None


class ClientDisconnected(OSError):
    """Raised by ``send`` on a WebSocket whose client has gone (as uvicorn does)."""


class _AppStream:
    __slots__ = (
        "complete",
        "credit_waiter",
        "gone",
        "held_start",
        "inbox",
        "protocol",
        "sid",
        "task",
        "unacked",
        "waiter",
        "wanted",
        "websocket",
    )

    def __init__(self, protocol: AppServer, sid: int, first: Message, websocket: bool) -> None:
        self.protocol = protocol
        self.sid = sid
        self.inbox: deque[Message] = deque((first,))
        self.waiter: asyncio.Future[None] | None = None
        self.wanted = False
        self.gone = False
        self.websocket = websocket
        self.unacked = 0
        self.credit_waiter: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] | None = None
        #: a response start not written yet: it leaves with the first body chunk
        self.held_start: Message | None = None
        #: the app sent the last body chunk (the gateway needs no END then)
        self.complete = False

    def deliver(self, message: Message) -> None:
        self.wanted = False
        self.inbox.append(message)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _want(self) -> None:
        if not self.wanted:
            self.wanted = True
            self.protocol.write_frame(t.WANT, self.sid)

    async def receive(self) -> Message:
        while not self.inbox:
            self._want()
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
            self.waiter = None
        message = self.inbox.popleft()
        # More follows: ask for it now, so it is here when the app asks.
        if (
            not self.inbox
            and (message.get("more_body") or self.websocket)
            and message["type"] not in ("websocket.disconnect", "http.disconnect")
        ):
            self._want()
        return message

    async def send(self, message: Message) -> None:
        if self.gone:
            if self.websocket:
                raise ClientDisconnected("the client has disconnected")
            return
        kind = message["type"]
        if kind == "http.response.body":
            body = message.get("body", b"")
            more = message.get("more_body", False)
            start = self.held_start
            if start is not None and not more and len(body) <= t.MAX_CHUNK:
                # The usual whole response: one frame, no coroutine of its own.
                self.held_start = None
                response = (start["status"], start.get("headers", []), bytes(body), False)
                self.protocol.write_frame(t.RESPONSE, self.sid, t.dumps(response))
                self.complete = True
                return
            while len(body) > t.MAX_CHUNK:
                chunk, body = body[: t.MAX_CHUNK], body[t.MAX_CHUNK :]
                await self._send_body(chunk, True)
            await self._send_body(body, more)
            return
        if kind == "http.response.start" and len(message) <= 3 and self.held_start is None:
            # Most apps send the body right after: both go in one RESPONSE frame. If the
            # body is late, the start leaves alone when this loop pass ends (flush_held).
            self.held_start = message
            self.protocol.hold(self)
            return
        self.flush_held()
        self.protocol.write_frame(t.MSG, self.sid, t.dumps(dict(message)))

    def flush_held(self) -> None:
        start = self.held_start
        if start is not None:
            self.held_start = None
            self.protocol.write_frame(t.MSG, self.sid, t.dumps(dict(start)))

    async def _send_body(self, body: bytes, more: bool) -> None:
        start = self.held_start
        if start is not None:
            self.held_start = None
            response = (start["status"], start.get("headers", []), bytes(body), more)
            self.protocol.write_frame(t.RESPONSE, self.sid, t.dumps(response))
        else:
            self.protocol.write_frame(t.BODY if more else t.BODY_END, self.sid, bytes(body))
        if not more:
            self.complete = True
            return
        self.unacked += len(body)
        while self.unacked >= t.WINDOW and not self.gone:
            self.credit_waiter = asyncio.get_running_loop().create_future()
            await self.credit_waiter

    def credit(self, amount: int) -> None:
        self.unacked -= amount
        self._wake_sender()

    def mark_gone(self) -> None:
        self.gone = True
        self._wake_sender()
        self.deliver({"type": "websocket.disconnect" if self.websocket else "http.disconnect"})

    def _wake_sender(self) -> None:
        if self.credit_waiter is not None and not self.credit_waiter.done():
            self.credit_waiter.set_result(None)


class AppServer(t.FrameProtocol):
    """Serves ``app`` for every stream the gateway opens on this connection."""

    def __init__(self, app: ASGIApp | None = None) -> None:
        super().__init__()
        self.app = app
        self.state: dict[str, Any] = {}
        #: the plugin served (:meth:`serve`): lines logged while serving carry its name
        self.plugin = ""
        self.plugin_logger = logger
        self.streams: dict[int, _AppStream] = {}
        #: set when the gateway asks to stop (the float: how long to drain) or is gone (None)
        self.stop: asyncio.Future[float | None] = self._loop.create_future()
        self._idle: asyncio.Future[None] | None = None
        self._held: list[_AppStream] = []

    def __repr__(self) -> str:
        return f"AppServer(inflight={len(self.streams)})"

    def serve(self, app: ASGIApp, state: dict[str, Any], plugin: str) -> None:
        """Serve ``app`` (its lifespan ``state`` copied into each request), ``plugin``'s."""
        self.app = app
        self.state = state
        self.plugin = plugin
        self.plugin_logger = logging.getLogger(f"plugin.{plugin}")

    def frame_received(self, kind: int, sid: int, payload: bytes) -> None:
        if kind == t.REQUEST:
            scope, first = t.decode_request(payload)
            new = _AppStream(self, sid, first, scope["type"] == "websocket")
            self.streams[sid] = new
            new.task = self._loop.create_task(self._run(new, scope))
            return
        stream: _AppStream | None = self.streams.get(sid)
        if kind == t.BODY or kind == t.BODY_END:
            if stream is not None:
                more = kind == t.BODY
                stream.deliver({"type": "http.request", "body": payload, "more_body": more})
        elif kind == t.MSG:
            if stream is not None:
                stream.deliver(t.loads(payload))
        elif kind == t.CREDIT:
            if stream is not None:
                stream.credit(t.CREDIT_AMOUNT.unpack(payload)[0])
        elif kind == t.GONE:
            if stream is not None:
                stream.mark_gone()
        elif kind == t.CANCEL:
            if stream is not None and stream.task is not None:
                stream.task.cancel()
        elif kind == t.SHUTDOWN and not self.stop.done():
            self.stop.set_result(t.loads(payload))

    async def _run(self, stream: _AppStream, scope: dict[str, Any]) -> None:
        assert self.app is not None
        if self.state:
            scope["state"] = self.state.copy()
        if self.plugin and (request_id := _request_id(scope)) is not None:
            REQUEST.set((self.plugin, request_id))  # this task's context only
        error: str | None = None
        try:
            await self.app(scope, stream.receive, stream.send)
        except asyncio.CancelledError:
            error = "cancelled (request timeout)"
        except SystemExit as exc:
            # The app asked its process to exit: it does, as it would under uvicorn; the
            # gateway sees a crash (502 for what this process had) and starts another.
            logger.error("the app called sys.exit(%r) while serving a request: exiting", exc.code)
            code = exc.code if isinstance(exc.code, int) else 1
            sys.stderr.flush()
            os._exit(code)
        except BaseException as exc:
            if not (stream.gone and isinstance(exc, OSError)):
                self.plugin_logger.error(
                    "%s %s failed: %s: %s",
                    scope.get("method", "WEBSOCKET"),
                    scope.get("path", ""),
                    type(exc).__name__,
                    exc,
                    exc_info=exc,
                )
            error = f"{type(exc).__name__}: {exc}"
        finally:
            del self.streams[stream.sid]
            stream.flush_held()
            if error is not None or not stream.complete:
                self.write_frame(t.END, stream.sid, t.dumps(error))
            if not self.streams and self._idle is not None and not self._idle.done():
                self._idle.set_result(None)

    async def drain(self, timeout: float) -> None:
        """Let in-flight requests finish (up to ``timeout``), then cancel what is left."""
        if self.streams:
            self._idle = self._loop.create_future()
            try:
                await asyncio.wait_for(asyncio.shield(self._idle), timeout)
            except TimeoutError:
                logger.warning("%d request(s) still running after %gs", len(self.streams), timeout)
        tasks = [s.task for s in self.streams.values() if s.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def hold(self, stream: _AppStream) -> None:
        """``stream`` holds a response start: write it at the end of this loop pass if no
        body chunk came to take it along."""
        self._held.append(stream)
        self.schedule_flush()

    def _flush(self) -> None:
        held, self._held = self._held, []
        for stream in held:
            stream.flush_held()
        super()._flush()

    def send_ready(self, info: dict[str, Any]) -> None:
        self.write_frame(t.READY, 0, t.dumps(info))

    def send_failed(self, details: dict[str, Any]) -> None:
        self.write_frame(t.FAILED, 0, t.dumps(details))

    def send_stalled(self) -> None:
        """The plugin held this process's loop past ``loop_stall_ms`` (for the metrics)."""
        if not self._closed:
            self.write_frame(t.STALLED, 0, b"")

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        for stream in list(self.streams.values()):
            if stream.task is not None:
                stream.task.cancel()
        if not self.stop.done():
            self.stop.set_result(None)
