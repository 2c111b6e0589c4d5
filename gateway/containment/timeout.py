"""``limits.request_timeout_s``: a request that takes longer gets 504, and its work is stopped
where it can be.

The request's task is cancelled: an ASGI view gets ``CancelledError``
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
from typing import Any

from ..types import ASGIApp, Message, Receive, Scope, Send
from .counters import PluginCounters
from .responses import refuse

logger = logging.getLogger(__name__)


class _Request:
    """One request under a timeout: its task, its ``send`` (noting whether the response has
    started), and whether the timeout cancelled it."""

    __slots__ = ("expired", "send", "started", "task")

    def __init__(self, send: Send, task: asyncio.Task[Any]) -> None:
        self.send = send
        self.task = task
        self.started = False
        self.expired = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


class Timeout:
    """ASGI middleware: answer 504 once ``seconds`` pass without the app finishing.

    Rather than a timer per request (``asyncio.timeout()`` or ``loop.call_at`` cost 2-6 us a
    request, measured), the requests in flight are kept in arrival order, which is deadline
    order since they all have the same timeout, and one timer sweeps them every
    ``seconds / 10`` (at most every second) while any is in flight. A request is cut at most
    that much after its deadline.
    """

    __slots__ = ("_inflight", "_interval", "_sweeper", "app", "counters", "plugin", "seconds")

    def __init__(self, app: ASGIApp, seconds: float, plugin: str, counters: PluginCounters) -> None:
        self.app = app
        self.seconds = seconds
        self.plugin = plugin
        self.counters = counters
        self._inflight: dict[_Request, float] = {}  # request -> deadline, oldest first
        self._interval = min(1.0, max(0.01, seconds / 10))
        self._sweeper: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"Timeout({self.plugin!r}, {self.seconds}s, {len(self._inflight)} in flight)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        task = asyncio.current_task()
        assert task is not None
        loop = task.get_loop()
        request = _Request(send, task)
        self._inflight[request] = loop.time() + self.seconds
        if self._sweeper is None:
            self._sweeper = loop.call_later(self._interval, self._sweep, loop)
        try:
            await self.app(scope, receive, request)
        except asyncio.CancelledError:
            # Ours, unless someone else cancelled the request too (the server stopping).
            if not request.expired or task.uncancel() > 0:
                raise
            await self._timed_out(scope, request)
        finally:
            del self._inflight[request]

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for request, deadline in self._inflight.items():
            if deadline > now:
                break  # every later one arrived later
            if not request.expired:
                request.expired = True
                request.task.cancel()
        self._sweeper = (
            loop.call_later(self._interval, self._sweep, loop) if self._inflight else None
        )

    async def _timed_out(self, scope: Scope, request: _Request) -> None:
        self.counters.timeouts += 1
        what = "connection aborted" if request.started else "answered 504"
        logger.warning(
            "plugin %s: %s %s did not finish within request_timeout_s=%gs: %s",
            self.plugin,
            scope.get("method", ""),
            scope.get("path", ""),
            self.seconds,
            what,
        )
        if not request.started:
            await refuse(
                request.send, 504, f"plugin {self.plugin!r} did not answer within {self.seconds:g}s"
            )
        # else: returning with the response unfinished makes the server close the
        # connection (uvicorn: "ASGI callable returned without completing response").
