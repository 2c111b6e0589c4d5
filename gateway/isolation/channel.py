"""The gateway's end of the connection to one worker process, and the relay of one request
over it (see :mod:`.transport` for the frames).

:meth:`WorkerChannel.relay` is what a request costs in the gateway: it takes the client's
first receive message, sends it with the scope in one frame, and writes the worker's messages
to the client as they arrive. A receive message beyond the first is fetched only when the
worker's app asks for it (``WANT``), so a GET needs no task of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from ..types import Message, Receive, Scope, Send
from . import transport as t

logger = logging.getLogger(__name__)


def _json_response(status: int, detail: str, extra: list[tuple[bytes, bytes]]) -> list[Message]:
    body = b'{"detail":"' + detail.replace('"', "'").encode() + b'"}'
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    return [
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": body},
    ]


class WorkerGone(Exception):
    """The worker process ended while a request was in flight (the client gets 502)."""


class _Event:
    """What a stream's inbox can hold besides a message: the app's end, a crash, a timeout."""

    __slots__ = ("error", "kind")

    def __init__(self, kind: str, error: str | None = None) -> None:
        self.kind = kind
        self.error = error


_CRASH = _Event("crash")
_TIMEOUT = _Event("timeout")


class _Stream:
    """One request in flight on a channel."""

    __slots__ = ("forwarded", "inbox", "pump", "receive", "sid", "waiter")

    def __init__(self, sid: int, receive: Receive) -> None:
        self.sid = sid
        self.receive = receive
        self.inbox: deque[Message | _Event] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.pump: asyncio.Task[None] | None = None
        self.forwarded = 0

    def push(self, item: Message | _Event) -> None:
        self.inbox.append(item)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def credit(self, channel: WorkerChannel, forwarded: int) -> None:
        """Return credit for response bytes written to the client, a quarter window at a time."""
        self.forwarded += forwarded
        if self.forwarded >= t.WINDOW // 4:
            channel.write_frame(t.CREDIT, self.sid, t.CREDIT_AMOUNT.pack(self.forwarded))
            self.forwarded = 0


class WorkerChannel(t.FrameProtocol):
    """The connection to one worker: handshake, streams, and the relay of requests."""

    def __init__(
        self,
        name: str,
        on_lost: Callable[[WorkerChannel], None],
        on_stall: Callable[[], None] | None = None,
    ) -> None:
        """``on_lost``: the connection closed; ``on_stall``: the worker reported its plugin
        holding its event loop."""
        super().__init__()
        self.name = name
        self._on_stall = on_stall
        self.pid = 0
        self.ready: asyncio.Future[dict[str, Any]] = self._loop.create_future()
        self.streams: dict[int, _Stream] = {}
        self._on_lost = on_lost
        self._next_sid = 1
        self._idle: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return f"WorkerChannel({self.name!r}, pid={self.pid}, inflight={len(self.streams)})"

    @property
    def inflight(self) -> int:
        return len(self.streams)

    @property
    def closed(self) -> bool:
        return self._closed

    # --- frames from the worker ---------------------------------------------------------

    def frame_received(self, kind: int, sid: int, payload: bytes) -> None:
        stream = self.streams.get(sid)
        if kind == t.RESPONSE:
            if stream is not None:
                status, headers, body, more = t.loads(payload)
                stream.push({"type": "http.response.start", "status": status, "headers": headers})
                stream.push({"type": "http.response.body", "body": body, "more_body": more})
        elif kind == t.BODY or kind == t.BODY_END:
            if stream is not None:
                more = kind == t.BODY
                stream.push({"type": "http.response.body", "body": payload, "more_body": more})
        elif kind == t.MSG:
            if stream is not None:
                stream.push(t.loads(payload))
        elif kind == t.END:
            if stream is not None:
                stream.push(_Event("end", t.loads(payload)))
        elif kind == t.WANT:
            if stream is None:
                # The request is over here (the response was complete): as uvicorn does.
                self.write_frame(t.MSG, sid, _DISCONNECT)
            elif stream.pump is None or stream.pump.done():
                stream.pump = self._loop.create_task(self._pump(stream))
        elif kind == t.READY:
            if not self.ready.done():
                self.ready.set_result(t.loads(payload))
        elif kind == t.FAILED and not self.ready.done():
            self.ready.set_exception(LoadFailed(t.loads(payload)))
        elif kind == t.STALLED and self._on_stall is not None:
            self._on_stall()

    async def _pump(self, stream: _Stream) -> None:
        message = await stream.receive()
        if message["type"] == "http.request":
            kind = t.BODY if message.get("more_body", False) else t.BODY_END
            self.write_frame(kind, stream.sid, bytes(message.get("body", b"")))
        else:
            self.write_frame(t.MSG, stream.sid, t.dumps(dict(message)))

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        for stream in self.streams.values():
            stream.push(_CRASH)
        if not self.ready.done():
            self.ready.set_exception(WorkerGone("the worker process ended before it was ready"))
        self._on_lost(self)

    # --- requests -----------------------------------------------------------------------

    def shutdown(self, drain_timeout: float) -> None:
        """Ask the worker to finish its in-flight requests and exit."""
        self.write_frame(t.SHUTDOWN, 0, t.dumps(float(drain_timeout)))

    async def drained(self, timeout: float) -> bool:
        """Wait until no request is in flight here (True) or ``timeout`` passes (False)."""
        if not self.streams:
            return True
        self._idle = self._loop.create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self._idle), timeout)
        except TimeoutError:
            return not self.streams
        return True

    async def relay(
        self, scope: Scope, receive: Receive, send: Send, timeout: float | None
    ) -> None:
        """Serve one request through the worker."""
        sid = self._next_sid
        self._next_sid = sid + 1
        stream = _Stream(sid, receive)
        # In flight from now on, before the first receive() (which waits for a body to
        # arrive): a drain that starts meanwhile must wait for this request.
        self.streams[sid] = stream
        timer = None
        if timeout is not None:
            timer = self._loop.call_later(timeout, stream.push, _TIMEOUT)
        inbox = stream.inbox
        started = False
        try:
            self.write_frame(t.REQUEST, sid, t.encode_request(scope, await receive()))
            if self._closed:
                stream.push(_CRASH)
            while True:
                if not inbox:
                    # Inline rather than a helper coroutine: this runs for every request.
                    stream.waiter = self._loop.create_future()
                    await stream.waiter
                    continue
                item = inbox.popleft()
                if isinstance(item, _Event):
                    await self._event(scope, stream, send, item, started, timeout)
                    return
                kind = item["type"]
                if kind == "http.response.body":
                    await send(item)
                    if not item.get("more_body", False):
                        return
                    stream.credit(self, len(item.get("body", b"")))
                    continue
                if kind in _STARTS:
                    started = True
                try:
                    await send(item)
                except OSError:
                    # The client is gone (uvicorn raises for a closed WebSocket): tell the app.
                    self.write_frame(t.GONE, sid)
                    return
        finally:
            if timer is not None:
                timer.cancel()
            del self.streams[sid]
            if stream.pump is not None and not stream.pump.done():
                stream.pump.cancel()
            if not self.streams and self._idle is not None and not self._idle.done():
                self._idle.set_result(None)

    async def _event(
        self,
        scope: Scope,
        stream: _Stream,
        send: Send,
        event: _Event,
        started: bool,
        timeout: float | None,
    ) -> None:
        """The app returned, the request timed out, or the worker died."""
        if event.kind == "end":
            if event.error is None and (started or scope["type"] == "websocket"):
                return
            if not started:
                await self._answer_error(scope, send, 500, "Internal Server Error")
                return
            raise WorkerGone(f"the app failed after starting its response: {event.error}")
        if event.kind == "timeout":
            self.write_frame(t.CANCEL, stream.sid)
            if not started:
                detail = f"the plugin did not answer within {timeout:g}s"
                await self._answer_error(scope, send, 504, detail)
                return
            raise TimeoutError(f"request timed out after {timeout:g}s")
        if not started:
            detail = "the plugin's process ended before it answered"
            await self._answer_error(scope, send, 502, detail)
            return
        raise WorkerGone("the plugin's process ended during the response")

    async def _answer_error(self, scope: Scope, send: Send, status: int, detail: str) -> None:
        if scope["type"] == "websocket":
            # Before the handshake was accepted, uvicorn turns this into an HTTP 403.
            await send({"type": "websocket.close", "code": 1011})
            return
        for message in _json_response(status, detail, []):
            await send(message)


class LoadFailed(Exception):
    """The worker reported that loading the plugin failed."""

    def __init__(self, details: dict[str, Any]) -> None:
        super().__init__(details.get("message", "loading failed"))
        self.details = details


#: messages after which an error can no longer be answered with a status of its own
_STARTS = frozenset(
    {"http.response.start", "websocket.accept", "websocket.close", "websocket.http.response.start"}
)
_DISCONNECT = t.dumps({"type": "http.disconnect"})
