"""A fair share of the shared WSGI pool for each plugin.

Every WSGI plugin (and every sync function, and Django) runs on one bounded thread pool. Left
alone, one plugin whose requests hang would take every thread of it, and every other WSGI
plugin would stop answering. :class:`ShareExecutor` stands between one plugin and the pool:
it hands at most ``share`` of the plugin's tasks to the pool at once and queues the rest in
the plugin's own FIFO, submitting the next one when one of its tasks finishes.

A task counts against the share from the moment it is handed to the pool until its function
returns, whatever happened to the request that asked for it: a request that timed out or
whose client went away cannot stop a thread, so a stuck thread keeps its slot. That is the
point: a plugin's stuck threads are its own problem, never its neighbours'.

It is an :class:`concurrent.futures.Executor`, so the WSGI adapter and the other kinds use
it as they would use the pool (``loop.run_in_executor(executor, ...)``) and need no change.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

#: waiting tasks a pool thread runs one after the other before it returns the plugin's slot
#: to the pool's queue (where other plugins' tasks may wait)
INLINE_TASKS = 8

P = ParamSpec("P")
T = TypeVar("T")


class _Queued:
    """A task waiting for a slot: the future its caller holds, and what to run."""

    __slots__ = ("args", "fn", "future", "kwargs")

    def __init__(
        self,
        future: Future[Any],
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.future = future
        self.fn = fn
        self.args = args
        self.kwargs = kwargs

    def run(self) -> None:
        """Run in a pool thread; the caller's future gets the outcome."""
        try:
            result = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:  # as concurrent.futures' own work items do
            self.future.set_exception(exc)
        else:
            self.future.set_result(result)


class ShareExecutor(Executor):
    """One plugin's view of the shared ``pool``: at most ``share`` of its tasks in it."""

    def __init__(self, pool: Executor, share: int, name: str = "") -> None:
        if share < 1:
            raise ValueError(f"share must be at least 1, got {share}")
        self.pool = pool
        self.share = share
        self.name = name
        self._lock = threading.Lock()
        self._busy = 0
        self._waiting: deque[_Queued] = deque()
        self._shutdown = False
        self._submitter = 0

    def __repr__(self) -> str:
        return (
            f"ShareExecutor({self.name!r}, share={self.share}, busy={self._busy}, "
            f"waiting={len(self._waiting)})"
        )

    @property
    def busy(self) -> int:
        """Tasks of this plugin handed to the pool and not finished: the threads it holds
        now (stuck ones included), or is about to hold once the pool has a free one."""
        return self._busy

    def busy_now(self) -> int:
        """:attr:`busy`, as a function (what the metrics read at each flush)."""
        return self._busy

    @property
    def waiting(self) -> int:
        """Tasks queued behind the share (cancelled ones are dropped when reached)."""
        return len(self._waiting)

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        self._submitter = threading.get_ident()  # the event loop's thread, in the gateway
        with self._lock:
            if self._shutdown:
                raise RuntimeError(f"cannot schedule new tasks for {self.name!r} after shutdown")
            if self._busy < self.share and not self._waiting:
                self._busy += 1
                # The common case costs one lock and one callback: the pool's own future
                # goes back to the caller, so cancelling it works as on the pool.
                try:
                    future = self.pool.submit(fn, *args, **kwargs)
                except BaseException:
                    self._busy -= 1
                    raise
            else:
                queued: Future[T] = Future()
                self._waiting.append(_Queued(queued, fn, args, kwargs))
                return queued
        future.add_done_callback(self._finished)
        return future

    def _finished(self, done: Future[Any]) -> None:
        """A task of ours is done (or was cancelled before it ran): pass its slot on.

        Called in the pool thread that ran the task, that thread goes on with the plugin's
        next waiting tasks itself (at most ``INLINE_TASKS`` of them, then the slot goes back
        through the pool's queue, where other plugins' tasks may wait): no hand-off to
        another thread, which is what a queued task would otherwise cost. Called anywhere
        else (the task finished before the callback was attached, or was cancelled), the
        next task goes to the pool.
        """
        inline = 0 if done.cancelled() or threading.get_ident() == self._submitter else INLINE_TASKS
        while True:
            with self._lock:
                while self._waiting:
                    task = self._waiting.popleft()
                    # False: its caller cancelled it while it waited (its request timed out).
                    if task.future.set_running_or_notify_cancel():
                        break
                else:
                    self._busy -= 1
                    return
            if inline:
                inline -= 1
                task.run()
                continue
            try:
                future = self.pool.submit(task.run)
            except BaseException as exc:  # the pool is shut down: the gateway is stopping
                task.future.set_exception(exc)
                continue
            future.add_done_callback(self._finished)
            return

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new tasks; ``cancel_futures`` cancels the queued ones. The shared pool
        itself belongs to the gateway and is left running."""
        with self._lock:
            self._shutdown = True
            cancelled = list(self._waiting) if cancel_futures else []
            if cancel_futures:
                self._waiting.clear()
        for task in cancelled:
            task.future.cancel()


class Shares:
    """The :class:`ShareExecutor` of each plugin of one gateway, by plugin name.

    A plugin keeps one executor across its reloads, so the threads an old version still
    holds count against the new version too: reloading a plugin whose requests hang does not
    get it a second share.
    """

    def __init__(
        self,
        pool: Executor,
        share: int,
        watch_busy: Callable[[str, Callable[[], int]], object] = lambda plugin, busy: None,
    ) -> None:
        """``watch_busy(plugin, busy)`` is told of each plugin's executor (for metrics)."""
        self.pool = pool
        self.share = share
        self._watch_busy = watch_busy
        self._executors: dict[str, ShareExecutor] = {}
        self._lock = threading.Lock()  # loads (and so calls to executor_for) run in threads

    def __repr__(self) -> str:
        return f"Shares({len(self._executors)} plugins, share={self.share})"

    def executor_for(self, plugin: str) -> ShareExecutor:
        """The executor ``plugin``'s sync code runs on."""
        with self._lock:
            executor = self._executors.get(plugin)
            if executor is None:
                executor = self._executors[plugin] = ShareExecutor(self.pool, self.share, plugin)
                self._watch_busy(plugin, executor.busy_now)
            return executor

    def busy(self) -> dict[str, int]:
        """Pool threads each plugin holds now (``gateway_wsgi_busy_threads{plugin}``)."""
        with self._lock:
            return {name: e.busy for name, e in self._executors.items()}

    def waiting(self) -> dict[str, int]:
        """Tasks each plugin has queued behind its share."""
        with self._lock:
            return {name: e.waiting for name, e in self._executors.items()}
