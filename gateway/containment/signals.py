"""Signals stay the gateway's: SIGTERM/SIGINT stop it, SIGHUP reloads every plugin.

uvicorn installs its stop handlers for SIGINT and SIGTERM with ``signal.signal`` when it
starts serving (``Server.capture_signals``), before the app's lifespan starts. Any code on the
main thread may replace them later, and a plugin's lifespan startup, its views and its timers
all run there: a plugin that installs its own SIGTERM handler would make the gateway ignore
SIGTERM (a container stop would end in SIGKILL). An import cannot, since loads run in a
thread, where ``signal.signal`` raises.

:class:`SignalGuard` takes the handlers uvicorn installed (wrapped, to note when a stop was
asked for), adds its own SIGHUP handler, and *checks and restores* them: right after each
plugin's load and lifespan startup (naming the plugin), and on every beat of the loop (at most
every 0.1 s, for what views and timers do). Checking was chosen over re-installing blindly
because it costs one ``signal.getsignal`` per signal and tells the operator which plugin
tried; intercepting ``signal.signal`` itself would mean patching the standard library for
every caller in the process, uvicorn included.

SIGHUP reloads every plugin through the registry's normal path (``Registry.load`` for each,
so each new version is started before it replaces the old one, which drains): nothing is
dropped. Several SIGHUPs during one reload make one more reload after it, not one each.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any

from uvicorn.supervisors import Multiprocess

logger = logging.getLogger(__name__)

#: the signals that stop the gateway (uvicorn's ``HANDLED_SIGNALS`` on POSIX)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class SignalGuard:
    """The gateway's signal handlers, kept installed while it serves."""

    def __init__(
        self,
        reload_all: Callable[[], Coroutine[Any, Any, None]],
        owner_of_module: Callable[[str], str | None],
    ) -> None:
        self._reload_all = reload_all
        self._owner_of_module = owner_of_module
        self._ours: dict[signal.Signals, Handler] = {}
        self._previous: dict[signal.Signals, Handler] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reloading: asyncio.Task[None] | None = None
        self._reload_again = False
        #: ``time.monotonic()`` when SIGINT/SIGTERM asked the gateway to stop, if it did
        self.stop_requested_at: float | None = None

    def __repr__(self) -> str:
        return f"SignalGuard(installed={sorted(s.name for s in self._ours)})"

    def install(self) -> None:
        """Take over the stop signals' handlers and SIGHUP (on the loop, in the main thread;
        anywhere else, as under a test client, signals are not the gateway's to handle)."""
        if threading.current_thread() is not threading.main_thread():
            return
        self._loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            server_handler = signal.getsignal(sig)
            if callable(server_handler):
                self._previous[sig] = server_handler
                self._ours[sig] = self._stop_handler(server_handler)
        self._ours[signal.SIGHUP] = self._hup
        self._previous[signal.SIGHUP] = signal.getsignal(signal.SIGHUP)
        for sig, handler in self._ours.items():
            signal.signal(sig, handler)

    def uninstall(self) -> None:
        """Give the signals back as they were (uvicorn restores its own from there)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, handler in self._previous.items():
            if signal.getsignal(sig) is self._ours.get(sig):
                signal.signal(sig, handler)
        self._ours.clear()
        self._previous.clear()

    def check(self, plugin: str | None = None) -> None:
        """Put back any handler of ours that was replaced; ``plugin``: the plugin that just
        loaded or started, to blame if the replacement does not name its own module."""
        for sig, ours in self._ours.items():
            current = signal.getsignal(sig)
            if current is ours:
                continue
            signal.signal(sig, ours)
            module = getattr(current, "__module__", None)
            owner = self._owner_of_module(module) if isinstance(module, str) else None
            who = f"plugin {owner or plugin}" if owner or plugin else "a plugin"
            logger.warning(
                "%s replaced the gateway's %s handler (with %r); the gateway's is back "
                "(a plugin cleans up in its lifespan shutdown, which the gateway runs)",
                who,
                sig.name,
                current,
            )

    def _stop_handler(
        self, server_handler: Callable[[int, FrameType | None], Any]
    ) -> Callable[[int, FrameType | None], None]:
        def stop(signum: int, frame: FrameType | None) -> None:
            if self.stop_requested_at is None:
                self.stop_requested_at = time.monotonic()
            server_handler(signum, frame)

        return stop

    def _hup(self, signum: int, frame: FrameType | None) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._start_reload)

    def _start_reload(self) -> None:
        if self._reloading is not None and not self._reloading.done():
            self._reload_again = True
            return
        logger.info("SIGHUP: reloading every plugin")
        self._reloading = asyncio.get_running_loop().create_task(self._reload())

    async def _reload(self) -> None:
        while True:
            self._reload_again = False
            try:
                await self._reload_all()
            except Exception:
                logger.exception("SIGHUP: reloading the plugins failed")
            if not self._reload_again:
                return

    async def close(self) -> None:
        """Stop a reload in progress (the gateway is stopping)."""
        if self._reloading is not None and not self._reloading.done():
            self._reloading.cancel()
            await asyncio.gather(self._reloading, return_exceptions=True)


class ForwardingSupervisor(Multiprocess):
    """uvicorn's worker supervisor (``--workers N``), with SIGHUP passed on to each worker.

    uvicorn's answer to SIGHUP is to replace every worker process. A new worker is "ready"
    for uvicorn as soon as it listens, before its plugins are loaded, and would answer 503
    until they are; a worker that gets the SIGHUP itself reloads its plugins in place, with
    no request dropped, as a single-process gateway does.
    """

    # uvicorn's Multiprocess.handle_<signal> methods and its ``processes`` list, checked
    # against uvicorn 0.54 (tests/test_e2e_worker_restart.py sends SIGHUP to workers).
    def handle_hup(self) -> None:
        logger.info("SIGHUP: passing it on to %d worker(s)", len(self.processes))
        for process in self.processes:
            if process.pid is not None and process.process.is_alive():
                os.kill(process.pid, signal.SIGHUP)
