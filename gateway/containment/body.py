"""``limits.max_body_bytes``: a request body over the plugin's limit is refused with 413.

- With a ``Content-Length`` over the limit, before a byte of the body is read: the plugin
  never runs, and the body is never buffered. The 413 keeps the connection open, so the
  server reads the rest of the declared body and throws it away (memory stays flat) and the
  client, which usually sends its whole body before it reads, gets the 413 instead of a
  reset connection.
- A chunked body is counted as it arrives: as soon as the count passes the limit the client
  gets 413 (if the plugin has not started answering) and the connection is closed, since a
  chunked body has no declared end to skip to. The plugin sees the client disconnect.

This runs for every request of every plugin, so it is cheap where it can be: one pass over
the header list, and nothing more for a request with no body or a ``Content-Length`` under
the limit (by far the most common ones). Only chunked requests get a counting ``receive``.
"""

from __future__ import annotations

from ..types import ASGIApp, Message, Receive, Scope, Send
from .counters import PluginCounters
from .responses import refuse


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``limit`` bytes."""

    __slots__ = ("app", "counters", "limit", "plugin")

    def __init__(self, app: ASGIApp, limit: int, plugin: str, counters: PluginCounters) -> None:
        self.app = app
        self.limit = limit
        self.plugin = plugin
        self.counters = counters

    def __repr__(self) -> str:
        return f"BodyLimit({self.plugin!r}, limit={self.limit})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length":
                    # The HTTP parser has refused a malformed Content-Length already.
                    if int(value) > self.limit:
                        await self._refuse(send, close=False)
                        return
                    break
                if name == b"transfer-encoding":
                    await _Counted(self, scope, receive, send).run()
                    return
        await self.app(scope, receive, send)

    async def _refuse(self, send: Send, *, close: bool) -> None:
        self.counters.body_too_large += 1
        await refuse(
            send,
            413,
            f"request body larger than {self.limit} bytes "
            f"(limits.max_body_bytes of plugin {self.plugin!r})",
            close=close,
        )


class _Counted:
    """One chunked request: its body counted as the app reads it."""

    __slots__ = ("limit", "receive", "received", "refused", "scope", "send", "started")

    def __init__(self, limit: BodyLimit, scope: Scope, receive: Receive, send: Send) -> None:
        self.limit = limit
        self.scope = scope
        self.receive = receive
        self.send = send
        self.received = 0
        self.refused = False
        self.started = False

    async def run(self) -> None:
        await self.limit.app(self.scope, self._receive, self._send)

    async def _receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self.receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit.limit:
                self.refused = True
                if not self.started:
                    await self.limit._refuse(self.send, close=True)
                # else: the response is under way; returning without finishing it (the
                # app's further messages are dropped) makes the server abort the connection.
                return {"type": "http.disconnect"}
        return message

    async def _send(self, message: Message) -> None:
        if self.refused:
            return  # the client has its 413; what the app answers now goes nowhere
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)
