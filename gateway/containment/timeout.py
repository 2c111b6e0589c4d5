"""``limits.request_timeout_s``: a request that takes longer gets 504, and its work is stopped
where it can be.

The request's task is cancelled (``asyncio.timeout``): an ASGI view gets ``CancelledError``
at its next ``await`` and its ``finally`` blocks run. A WSGI request waits on a pool thread
that Python cannot stop; its task is cancelled all the same, the client gets its 504, and the
thread runs on to its end, still counted against its plugin's share of the pool
(:mod:`.share`), so a plugin whose requests hang cannot take threads from the others.

A response that has already started cannot become a 504: the connection is aborted instead
(the server closes it when the app returns without finishing the response), so the client
sees a truncated response rather than a complete-looking one.
"""

from __future__ import annotations

import asyncio
import logging

from ..types import ASGIApp, Message, Receive, Scope, Send
from .counters import PluginCounters
from .responses import refuse

logger = logging.getLogger(__name__)


class _Watched:
    """The request's ``send``, noting whether the response has started."""

    __slots__ = ("send", "started")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


class Timeout:
    """ASGI middleware: answer 504 once ``seconds`` pass without the app finishing."""

    __slots__ = ("app", "counters", "plugin", "seconds")

    def __init__(self, app: ASGIApp, seconds: float, plugin: str, counters: PluginCounters) -> None:
        self.app = app
        self.seconds = seconds
        self.plugin = plugin
        self.counters = counters

    def __repr__(self) -> str:
        return f"Timeout({self.plugin!r}, {self.seconds}s)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watched = _Watched(send)
        try:
            async with asyncio.timeout(self.seconds) as deadline:
                await self.app(scope, receive, watched)
        except TimeoutError:
            if not deadline.expired():
                raise  # the app's own TimeoutError, not ours
            self.counters.timeouts += 1
            what = "connection aborted" if watched.started else "answered 504"
            logger.warning(
                "plugin %s: %s %s did not finish within request_timeout_s=%gs: %s",
                self.plugin,
                scope.get("method", ""),
                scope.get("path", ""),
                self.seconds,
                what,
            )
            if not watched.started:
                await refuse(
                    send,
                    504,
                    f"plugin {self.plugin!r} did not answer within {self.seconds:g}s",
                )
            # else: returning with the response unfinished makes the server close the
            # connection (uvicorn: "ASGI callable returned without completing response").
