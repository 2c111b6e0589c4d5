"""Retiring replaced and removed versions: drain, shut down, release, give memory back.

Retirement runs in the background so a reload or removal returns at once: the version waits
for its in-flight requests (up to ``drain_timeout_s``), its lifespan shutdown runs, the kinds
take back what they registered and its modules are released.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from .plugin import PluginInfo
from .state import AnyVersion

logger = logging.getLogger(__name__)


class Retirement:
    """The versions being retired, and what to do once a burst of them is done."""

    def __init__(
        self,
        drain_timeout_s: float,
        *,
        on_unloaded: Callable[[PluginInfo], None],
        reclaim: Callable[[], None],
    ) -> None:
        self.drain_timeout_s = drain_timeout_s
        self._on_unloaded = on_unloaded
        self._reclaim = reclaim
        self._tasks: set[asyncio.Task[Any]] = set()
        self._retiring = 0
        self.closing = False

    def __repr__(self) -> str:
        return f"Retirement({self._retiring} retiring, drain_timeout_s={self.drain_timeout_s})"

    def retire(self, version: AnyVersion, info: PluginInfo, *, unloaded: bool) -> None:
        """Retire ``version`` in the background; ``unloaded``: the plugin is gone, not replaced."""
        self.spawn(self._retire(version, info, unloaded=unloaded))

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in the background; :meth:`wait` waits for it too."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        """Wait until every background task (retirements included) is done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _retire(self, version: AnyVersion, info: PluginInfo, *, unloaded: bool) -> None:
        self._retiring += 1
        try:
            await self._retire_one(version, info, unloaded=unloaded)
        finally:
            self._retiring -= 1
        # One trim after a burst (a folder removed with many plugins in it), none while the
        # whole gateway is stopping.
        if self._retiring == 0 and not self.closing:
            self._reclaim()

    async def _retire_one(self, version: AnyVersion, info: PluginInfo, *, unloaded: bool) -> None:
        timeout = self.drain_timeout_s
        started = time.perf_counter()
        drained = await version.mounted.drained(timeout)
        if not drained:
            logger.warning(
                "plugin %s: generation %d still had %d request(s) in flight after %ss",
                info.name,
                version.generation,
                version.mounted.inflight,
                timeout,
                extra={"plugin": info.name, "generation": version.generation},
            )
        await version.shutdown(timeout)
        leftovers = version.leftover_threads()
        if leftovers:
            # Emptying the modules would pull the globals from under these threads.
            logger.warning(
                "plugin %s: generation %d left %d thread(s) running its code after it was "
                "shut down: %s; its modules are released but not emptied",
                info.name,
                version.generation,
                len(leftovers),
                ", ".join(sorted(t.name for t in leftovers)),
            )
        version.release(clear=drained and not leftovers)
        logger.info(
            "plugin %s: generation %d shut down and released in %.0f ms",
            info.name,
            version.generation,
            (time.perf_counter() - started) * 1000,
            extra={"plugin": info.name, "generation": version.generation},
        )
        if unloaded:
            self._on_unloaded(info)
