"""Naming the plugin that blocks the event loop.

Every plugin shares one event loop: an async view that calls ``time.sleep()``, or computes for
a second without awaiting, stops every plugin and the health check with it. Nothing can
preempt it, but the gateway can say who did it. The loop beats (:meth:`StallWatch.beat`, run
by a timer every ``tick``); a watchdog thread wakes every ``tick`` and, when the last beat is
older than ``server.loop_stall_ms``, looks at what the loop's thread is running
(``sys._current_frames()``, a documented CPython function) and names the innermost frame that
belongs to a plugin: the plugin, its generation and ``file:line``. It logs that once when the
stall is noticed and once when the loop is back (with how long it was held), and counts it
against the plugin (``gateway_loop_stalls_total{plugin}``).

Idle cost: one timer callback on the loop and one thread wake-up per ``tick`` (at most 10 a
second), no per-request work. A stall shorter than ``loop_stall_ms`` is never reported; one
longer than ``loop_stall_ms`` + ``tick`` always is.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable

from .owners import Owners, Place

logger = logging.getLogger(__name__)

#: the longest interval between beats (and between the watchdog's looks)
MAX_TICK_S = 0.1


class StallWatch:
    """Watches one event loop's beats from a thread of its own."""

    def __init__(
        self,
        threshold_s: float,
        owners: Owners,
        stalled: Callable[[str], None],
        *,
        who_waits: str = "every plugin waits",
    ) -> None:
        """``stalled(plugin)`` counts a stall of ``plugin`` (called from the watchdog's
        thread, once per stall, when it is noticed)."""
        self.stalled = stalled
        #: what the log line says a stall costs (an isolated plugin's worker: only its own)
        self.who_waits = who_waits
        self.threshold_s = threshold_s
        self.tick = min(MAX_TICK_S, threshold_s / 4)
        self.owners = owners
        #: stalls in which no plugin frame was on the stack (the gateway's own code, a library)
        self.unowned_stalls = 0
        self._last_beat = time.monotonic()
        self._loop_thread: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"StallWatch(threshold={self.threshold_s * 1000:.0f}ms, tick={self.tick}s)"

    def beat(self) -> None:
        """The loop is running (called on the loop, every ``tick``)."""
        self._last_beat = time.monotonic()

    def start(self) -> None:
        """Watch the loop of the calling thread (call it on the loop)."""
        self._loop_thread = threading.get_ident()
        self._last_beat = time.monotonic()
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="gateway-stall-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
            self._thread = None

    def _watch(self) -> None:
        stalled_since: float | None = None  # the last beat before the stall being reported
        place: Place | None = None
        while not self._stop.wait(self.tick):
            last = self._last_beat
            if stalled_since is not None and last != stalled_since:
                self._ended(place, (last - stalled_since) * 1000)
                stalled_since = None
            if stalled_since is None and time.monotonic() - last >= self.threshold_s:
                stalled_since = last
                place = self._sample()
                self._noticed(place)

    def _sample(self) -> Place | None:
        frame = sys._current_frames().get(self._loop_thread or 0)
        try:
            return self.owners.place(frame)
        finally:
            del frame  # a frame keeps its locals alive

    def _noticed(self, place: Place | None) -> None:
        ms = self.threshold_s * 1000
        if place is not None and place.owner is not None:
            self.stalled(place.owner.plugin)
            logger.warning(
                "%s is blocking the event loop (over %.0f ms, server.loop_stall_ms) at %s: "
                "%s; use 'await' or a thread for blocking work",
                place.owner,
                ms,
                place,
                self.who_waits,
            )
        else:
            self.unowned_stalls += 1
            where = f" at {place}" if place is not None else ""
            logger.warning("the event loop is blocked (over %.0f ms)%s", ms, where)

    def _ended(self, place: Place | None, held_ms: float) -> None:
        who = place.owner if place is not None and place.owner is not None else "the code"
        logger.warning("%s held the event loop for about %.0f ms", who, held_ms)
