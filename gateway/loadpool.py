"""Running loads off the event loop: several at once, each with a deadline.

A plugin's import can do anything: hang on a lock or the network, loop forever. The standard
``ThreadPoolExecutor`` fits badly: its threads are joined at interpreter exit, so a hung
import keeps a stopped gateway alive, and a thread stuck in a hung import keeps its place in
the pool for good. Here a few daemon workers take loads from a queue; the caller stops waiting
at the deadline (``TimeoutError``) and the worker is *abandoned*: it runs on, reported by its
name (``gateway-load:<plugin>``), and a new worker takes its place.

Loads are admitted one at a time, and the next only once the running ones have all taken
longer than ``slow_s``: most loads are CPU-bound (compiling, building apps) and run faster
one after another than side by side fighting for the GIL (1,000 FastAPI plugins loaded in
1.09 s on one worker, 1.32-1.46 s on four), while a load that hangs holds the others up
for ``slow_s`` only, and the next ones run beside it.

The event loop never starts a thread itself while loads run: ``Thread.start()`` waits until
the new thread holds the GIL, which the busy workers do; measured here, starting a thread per
load held the loop 2.1 s over 2,000 loads. Workers are started before the first load, and a
replacement for an abandoned one is started from a helper thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(eq=False)
class _Job(Generic[T]):
    fn: Callable[[], T]
    name: str
    loop: asyncio.AbstractEventLoop
    started: asyncio.Future[None]
    result: asyncio.Future[T]
    when_late: Callable[[], None] | None
    worker: threading.Thread | None = None
    given_up: bool = field(default=False)


class LoadPool:
    """``parallel`` daemon workers running blocking load steps, each with a deadline; a load
    starts once every running one has taken longer than ``slow_s``."""

    def __init__(self, parallel: int, slow_s: float = 0.25) -> None:
        self.parallel = parallel
        self.slow_s = slow_s
        #: admitted and not yet done (or given up on), with when each was admitted
        self._running: dict[_Job[Any], float] = {}
        #: loads waiting to be admitted, in order; the first one's turn has come
        self._waiters: list[asyncio.Future[None]] = []
        #: what the first waiter waits on: a running load done, or the clock
        self._wake: asyncio.Future[None] | None = None
        self._queue: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._workers: set[threading.Thread] = set()
        self._abandoned: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LoadPool(parallel={self.parallel}, abandoned={len(self.abandoned())})"

    def start(self) -> None:
        """Start the workers (done by the first :meth:`run` if not before)."""
        with self._lock:
            missing = self.parallel - len(self._workers)
        for _ in range(missing):
            self._add_worker()

    def abandoned(self) -> list[threading.Thread]:
        """Workers whose load missed its deadline and still run."""
        with self._lock:
            return sorted(self._abandoned, key=lambda t: t.name)

    def close(self) -> None:
        """Let idle workers end (abandoned ones are daemons: they do not hold up the exit)."""
        with self._lock:
            count = len(self._workers)
        for _ in range(count):
            self._queue.put(None)

    async def run(
        self,
        fn: Callable[[], T],
        *,
        timeout: float,
        name: str,
        when_late: Callable[[], None] | None = None,
    ) -> T:
        """``fn()`` on a worker; ``TimeoutError`` if it has not returned ``timeout`` seconds
        after it started (time spent waiting for a worker does not count). An abandoned
        ``fn`` runs on; if it ever ends, ``when_late()`` is called on the event loop, so
        whatever it built can be released."""
        if not self._workers:
            self.start()
        loop = asyncio.get_running_loop()
        job: _Job[T] = _Job(fn, name, loop, loop.create_future(), loop.create_future(), when_late)
        try:
            await self._admit(job, loop)
            self._queue.put(job)
            await asyncio.shield(job.started)
            return await asyncio.wait_for(asyncio.shield(job.result), timeout)
        except (TimeoutError, asyncio.CancelledError):
            job.given_up = True
            if job.started.done() and not job.result.done() and job.worker is not None:
                self._abandon(job.worker)
            raise
        finally:
            self._done(job)

    async def _admit(self, job: _Job[Any], loop: asyncio.AbstractEventLoop) -> None:
        """Wait, in arrival order, until ``job`` may start: fewer than ``parallel`` loads
        running, none of them for less than ``slow_s``. Only the first waiter watches the
        clock; the others wait their turn (a thousand waiters woken at each step would cost
        a million wake-ups)."""
        turn: asyncio.Future[None] = loop.create_future()
        self._waiters.append(turn)
        if len(self._waiters) == 1:
            turn.set_result(None)
        try:
            await turn
            while True:
                now = loop.time()
                youngest = max(self._running.values(), default=None)
                if len(self._running) < self.parallel and (
                    youngest is None or now - youngest >= self.slow_s
                ):
                    self._running[job] = now
                    return
                # Woken by a load that is done, or when the youngest turns slow.
                self._wake = loop.create_future()
                wait = self.slow_s - (now - youngest) if youngest is not None else self.slow_s
                handle = loop.call_later(max(wait, 0.001), _set, self._wake, None, None)
                try:
                    await self._wake
                finally:
                    handle.cancel()
        finally:
            self._waiters.remove(turn)
            if self._waiters:
                _set(self._waiters[0], None, None)  # the next in line takes its turn

    def _done(self, job: _Job[Any]) -> None:
        if self._running.pop(job, None) is not None and self._wake is not None:
            _set(self._wake, None, None)

    def _abandon(self, worker: threading.Thread) -> None:
        with self._lock:
            self._workers.discard(worker)
            self._abandoned.add(worker)
        # Started from a helper thread: see the module's docstring.
        threading.Thread(target=self._add_worker, name="gateway-load-spawner", daemon=True).start()

    def _add_worker(self) -> None:
        worker = threading.Thread(target=self._work, name="gateway-load", daemon=True)
        with self._lock:
            self._workers.add(worker)
        worker.start()

    def _work(self) -> None:
        me = threading.current_thread()
        while (job := self._queue.get()) is not None:
            if job.given_up:  # its caller stopped waiting before it started (cancelled)
                continue
            job.worker = me
            me.name = job.name
            _call_soon(job.loop, _set, job.started, None, None)
            try:
                result, error = job.fn(), None
            except BaseException as exc:  # SystemExit too: it must not end the worker
                result, error = None, exc
            me.name = "gateway-load"
            _call_soon(job.loop, _deliver, job, result, error)
            # An idle worker must not keep the last version it loaded alive.
            del job, result, error
            with self._lock:
                if me in self._abandoned:
                    self._abandoned.discard(me)
                    return  # a replacement has taken this worker's place


def _deliver(job: _Job[Any], result: Any, error: BaseException | None) -> None:
    """On the event loop, where the caller decides to give up: a result nobody waits for any
    more is released instead."""
    if job.given_up:
        if job.when_late is not None:
            job.when_late()
    else:
        _set(job.result, result, error)


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: the gateway has stopped
        loop.call_soon_threadsafe(fn, *args)


def _set(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
