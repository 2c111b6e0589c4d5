"""``limits.max_concurrency``: at most N requests of one plugin at once, the rest wait in line.

A plugin with ``max_concurrency: N`` serves N requests at a time; the next ones wait in a
first-in, first-out queue of at most ``QUEUE_FACTOR`` x N; past that the client is told to
come back later (503 with ``Retry-After``) instead of piling up in memory. A request whose
client leaves, or that times out, while it waits leaves the queue.

Only HTTP requests are counted: a WebSocket lives as long as its connection and would hold
its slot for that long.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from ..types import ASGIApp, Receive, Scope, Send
from .counters import PluginCounters
from .responses import refuse

#: the queue holds at most this many times ``max_concurrency`` waiting requests (contract 13)
QUEUE_FACTOR = 10
RETRY_AFTER_S = 1


class Gate:
    """The slots and the waiting line of one plugin (shared by its versions across reloads)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    def __repr__(self) -> str:
        return f"Gate(limit={self.limit}, active={self.active}, waiting={len(self._waiters)})"

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def resize(self, limit: int) -> None:
        """A new version changed ``max_concurrency``: admit waiters a larger limit lets in."""
        self.limit = limit
        while self.active < self.limit and self._admit_next():
            self.active += 1

    async def enter(self) -> bool:
        """Take a slot, waiting in line for one if needed; False if the line is full."""
        if self.active < self.limit and not self._waiters:
            self.active += 1
            return True
        if len(self._waiters) >= QUEUE_FACTOR * self.limit:
            return False
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.leave()  # the slot was handed over just as we left: pass it on
            else:
                with contextlib.suppress(ValueError):  # already taken out by _admit_next
                    self._waiters.remove(waiter)
            raise
        return True

    def leave(self) -> None:
        """Give the slot back: to the first in line if anyone waits (FIFO)."""
        if not self._admit_next():
            self.active -= 1

    def _admit_next(self) -> bool:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return True
        return False


class Gated:
    """ASGI middleware: one version's requests go through its plugin's :class:`Gate`."""

    __slots__ = ("app", "counters", "gate", "plugin")

    def __init__(self, app: ASGIApp, gate: Gate, plugin: str, counters: PluginCounters) -> None:
        self.app = app
        self.gate = gate
        self.plugin = plugin
        self.counters = counters

    def __repr__(self) -> str:
        return f"Gated({self.plugin!r}, {self.gate!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        gate = self.gate
        if gate.active < gate.limit and not gate.waiting:
            gate.active += 1  # what enter() does first, without a coroutine per request
        elif not await gate.enter():
            self.counters.queue_full += 1
            await refuse(
                send,
                503,
                f"plugin {self.plugin!r} is at its max_concurrency ({gate.limit}) "
                f"and {gate.waiting} requests are waiting: try again later",
                headers=((b"retry-after", str(RETRY_AFTER_S).encode()),),
            )
            return
        try:
            await self.app(scope, receive, send)
        finally:
            gate.leave()
