"""Supervising the worker processes of one isolated plugin version: :class:`IsolatedPlugin`.

One ``IsolatedPlugin`` is one *version* of one plugin, as an in-process version is one
loaded app: a reload starts a new ``IsolatedPlugin``, swaps its :attr:`~IsolatedPlugin.app`
into the route table once :meth:`~IsolatedPlugin.start` returned, then calls
:meth:`~IsolatedPlugin.stop` on the old one, which drains it.

Within a version, each of the ``processes`` slots always has a process serving or one being
started for it:

- a process that dies (exit, signal, segfault, ``os._exit``, the memory limit) fails the
  requests it had with 502 (:mod:`.channel`) and is restarted after a delay that starts at
  0.5 s and doubles up to 30 s; it goes back to 0.5 s only once a process has stayed up
  10 s, so a plugin that crashes right after start-up backs off (status ``restarting``
  while a slot has no process);
- ``memory_mb`` is enforced by watching each process's resident memory (see
  :data:`MEMORY_POLL_S` for why not ``RLIMIT_AS``); past it the process is killed, which is
  a crash like any other;
- after ``max_requests`` requests a replacement is started; once it is ready it takes the
  old process's place and the old one drains and stops, so no request fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from ..errors import PluginError
from ..types import ASGIApp
from .process import WorkerProcess, describe_exit
from .proxy import IsolatedApp
from .spec import WorkerSpec
from .venv import ensure_venv

logger = logging.getLogger(__name__)

ACTIVE, RESTARTING = "active", "restarting"
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0
#: a process that stayed up this long resets its slot's restart delay
STABLE_AFTER_S = 10.0
#: how often the resident memory of each process is compared with ``memory_mb``.
#:
#: Why watching RSS rather than ``RLIMIT_AS``: the address-space limit counts what a process
#: reserves, not what it uses (each thread's stack, glibc's per-thread malloc arenas of
#: 64 MiB, mapped files), so for a Python process with a thread pool it is several times the
#: RSS, and a limit low enough to matter makes thread creation fail first; and it turns a
#: leak into ``MemoryError`` exceptions that a plugin may catch and live on with, instead of
#: a restart. The kernel's OOM killer acts on resident memory, so that is what is watched,
#: as uWSGI's ``reload-on-rss`` and supervisord's memmon do.
MEMORY_POLL_S = 0.25


class IsolatedPlugin:
    """One version of one isolated plugin: ``spec.processes`` supervised worker processes."""

    def __init__(
        self,
        spec: WorkerSpec,
        *,
        on_status: Callable[[str], None] | None = None,
        on_restart: Callable[[], None] | None = None,
        on_stall: Callable[[], None] | None = None,
        drain_timeout_s: float = 30.0,
    ) -> None:
        """``on_status(status)`` is called when the status changes (``restarting`` while a
        slot has no process, ``active`` once every slot serves again); ``on_restart()`` for
        each process that died and is restarted; ``on_stall()`` when a process reports the
        plugin holding its event loop."""
        self._on_stall = on_stall
        self.spec = spec
        self.status = ACTIVE
        self.restarts = 0
        self.recycles = 0
        self._on_status = on_status
        self._on_restart = on_restart
        self._drain_timeout = drain_timeout_s
        self._python = spec.python
        #: the serving process of each slot (None while it is restarting)
        self._serving: list[WorkerProcess | None] = [None] * max(1, spec.processes)
        self._ready: list[WorkerProcess] = []
        #: every process started and not yet reaped, whatever its state
        self._processes: set[WorkerProcess] = set()
        self._delays = [BACKOFF_START_S] * len(self._serving)
        self._tasks: set[asyncio.Task[None]] = set()
        self._recycling: set[int] = set()
        self._stopping = False
        self.app: ASGIApp = IsolatedApp(
            spec.name, lambda: self._ready, self._on_request, spec.request_timeout_s
        )

    def __repr__(self) -> str:
        return f"IsolatedPlugin({self.spec.name!r}, status={self.status!r}, pids={self.pids})"

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._serving if p is not None]

    @property
    def framework(self) -> str | None:
        """The framework its processes loaded the plugin as (known once one is ready)."""
        return next((p.framework for p in self._serving if p is not None and p.framework), None)

    def routes(self) -> list[str]:
        """The plugin's routes, as a ready process of it reported them."""
        return next((p.routes for p in self._serving if p is not None and p.routes), [])

    def openapi(self) -> dict[str, Any] | None:
        """The plugin's OpenAPI document, as a ready process of it reported it (``None``:
        it describes nothing, or no process is ready)."""
        text = next((p.openapi for p in self._serving if p is not None and p.openapi), None)
        if text is None:
            return None
        document = json.loads(text)
        return document if isinstance(document, dict) else None

    @property
    def rss_bytes(self) -> int:
        return sum(p.rss() for p in self._processes)

    @property
    def inflight(self) -> int:
        """Requests in flight in this version's processes (for draining and the admin API)."""
        return sum(p.channel.inflight for p in self._processes)

    async def start(self, timeout: float) -> None:
        """Build the venv if asked, start every process and wait until all are ready.

        Raises :class:`PluginError` (nothing is left running) if the venv cannot be built, a
        process fails to load the plugin or to start its lifespan, or one takes longer than
        ``timeout`` to do so.
        """
        if self.spec.venv:
            # Not counted in ``timeout`` (the load's import and lifespan): a first build
            # downloads packages and takes what it takes; later starts reuse it.
            self._python = await ensure_venv(self.spec)
        results = await asyncio.gather(
            *(self._start_process(slot, timeout) for slot in range(len(self._serving))),
            return_exceptions=True,
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            # This version will never serve: the processes that did start are killed, and
            # their ends are not crashes to restart from.
            self._stopping = True
            await self._kill_all()
            error = errors[0]
            if isinstance(error, PluginError):
                raise error
            raise PluginError(f"{type(error).__name__}: {error}", plugin=self.spec.name)
        self._spawn(self._watch_memory())
        logger.info(
            "plugin %s: %d process(es) ready: %s", self.spec.name, len(self.pids), self.pids
        )

    async def stop(self, drain_timeout: float) -> None:
        """Drain in-flight requests (up to ``drain_timeout``), stop every process, and wait
        until each has exited; nothing is restarted after this is called."""
        self._stopping = True
        self._ready = []
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(p.stop(drain_timeout) for p in list(self._processes)))
        await self._kill_all()
        self._serving = [None] * len(self._serving)

    # --- processes ----------------------------------------------------------------------

    async def _start_process(
        self, slot: int, timeout: float, replacing: WorkerProcess | None = None
    ) -> WorkerProcess:
        """Start a process for ``slot``; once ready it serves in place of ``replacing`` (which
        the caller retires) or of whatever the slot had."""
        process = WorkerProcess(self.spec, self._python, slot, self._lost, self._on_stall)
        self._processes.add(process)
        process.exited.add_done_callback(lambda _: self._processes.discard(process))
        try:
            await process.start(timeout)
        except BaseException:
            await process.kill()
            raise
        if self._stopping:
            await process.kill()
            raise asyncio.CancelledError
        previous = self._serving[slot]
        self._serving[slot] = process
        self._ready = [p for p in self._serving if p is not None]
        if previous is not None and previous is not replacing and previous.alive:
            # A restart and a recycle raced for this slot: one process is enough.
            self._spawn(previous.stop(self._drain_timeout))
        return process

    def _on_request(self, process: WorkerProcess) -> None:
        process.requests += 1
        limit = self.spec.max_requests
        if limit is not None and process.requests >= limit and process.slot not in self._recycling:
            self._recycling.add(process.slot)
            self._spawn(self._recycle(process))

    async def _recycle(self, old: WorkerProcess) -> None:
        """Replace ``old`` with a fresh process once that one is ready; then retire ``old``."""
        slot = old.slot
        try:
            await self._start_process(slot, self.spec.start_timeout_s, replacing=old)
        except PluginError as exc:
            logger.error("plugin %s: recycling process %d failed: %s", self.spec.name, old.pid, exc)
            return
        finally:
            self._recycling.discard(slot)
        self.recycles += 1
        logger.info(
            "plugin %s: process %d recycled after %d requests",
            self.spec.name,
            old.pid,
            old.requests,
        )
        await old.stop(self._drain_timeout)

    def _lost(self, process: WorkerProcess) -> None:
        """A process's connection closed: it died, or it was told to stop."""
        if process.retiring or self._stopping or process.ready_at is None:
            return
        slot = process.slot
        if self._serving[slot] is process:
            self._serving[slot] = None
            self._ready = [p for p in self._serving if p is not None]
        self.restarts += 1
        self._set_status(RESTARTING)
        if self._on_restart is not None:
            with contextlib.suppress(Exception):
                self._on_restart()
        self._spawn(self._restart(process))

    async def _restart(self, dead: WorkerProcess) -> None:
        slot = dead.slot
        code = await dead.exited
        assert dead.ready_at is not None
        uptime = time.monotonic() - dead.ready_at
        if uptime >= STABLE_AFTER_S:
            self._delays[slot] = BACKOFF_START_S
        cause = dead.kill_reason or describe_exit(code)
        while not self._stopping:
            delay = self._delays[slot]
            self._delays[slot] = min(delay * 2, BACKOFF_MAX_S)
            logger.error(
                "plugin %s: process %d %s after %.1fs up; restarting in %gs",
                self.spec.name,
                dead.pid,
                cause,
                uptime,
                delay,
            )
            await asyncio.sleep(delay)
            try:
                await self._start_process(slot, self.spec.start_timeout_s)
            except PluginError as exc:
                cause, uptime = f"failed to start again ({exc})", 0.0
                continue
            break
        if all(p is not None for p in self._serving):
            self._set_status(ACTIVE)

    async def _watch_memory(self) -> None:
        if self.spec.memory_mb is None:
            return
        limit = self.spec.memory_mb * 1024 * 1024
        while True:
            await asyncio.sleep(MEMORY_POLL_S)
            for process in list(self._processes):
                rss = process.rss()
                if rss > limit and process.kill_reason is None:
                    process.kill_reason = (
                        f"went over memory_mb={self.spec.memory_mb} "
                        f"(resident {rss / 1048576:.0f} MiB) and was killed"
                    )
                    logger.error(
                        "plugin %s: process %d %s", self.spec.name, process.pid, process.kill_reason
                    )
                    self._spawn(process.kill())

    async def _kill_all(self) -> None:
        await asyncio.gather(*(p.kill() for p in list(self._processes)))

    def _set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            if self._on_status is not None:
                with contextlib.suppress(Exception):
                    self._on_status(status)

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
