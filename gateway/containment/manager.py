"""One gateway's containment: each plugin's limits, share, counters, and the loop's guards.

The gateway builds one :class:`Containment` and lends two of its methods to every load
(:class:`gateway.loader.LoadServices`): :meth:`~Containment.executor_for` gives a plugin's sync
code its fair share of the shared pool, and :meth:`~Containment.wrap` puts a version's app
behind its plugin's limits before it is mounted. Between the server's start and stop,
:meth:`~Containment.start` runs the loop-stall watchdog and keeps the signal handlers the
gateway's.

A plugin with the default limits gets one wrapper, :class:`.body.BodyLimit` (one pass over the
header list per request); the others exist only for a plugin whose limits ask for them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config, LimitsConfig
from ..types import ASGIApp
from .body import BodyLimit
from .counters import PluginCounters
from .exits import EXIT_GRACE_S
from .gate import Gate, Gated
from .headers import HeaderLimit
from .owners import Owners
from .protocol import Door
from .share import Shares
from .signals import SignalGuard
from .stalls import StallWatch
from .timeout import Timeout

if TYPE_CHECKING:
    from ..loader import PluginSource
    from ..manifest import Manifest

logger = logging.getLogger(__name__)

#: the gateway ends within ``drain_timeout_s`` plus this of SIGTERM/SIGINT (contract 13)
STOP_MARGIN_S = 5.0


class Containment:
    """Everything that keeps one plugin's faults its own, for one gateway."""

    def __init__(
        self,
        config: Config,
        pool: Executor,
        plugins_dir: Path,
        reload_all: Callable[[], Coroutine[Any, Any, None]],
        *,
        on_stall: Callable[[str], None] = lambda plugin: None,
        watch_busy: Callable[[str, Callable[[], int]], object] = lambda plugin, busy: None,
    ) -> None:
        """``on_stall(plugin)``: ``plugin`` held the event loop (from the watchdog's thread);
        ``watch_busy(plugin, busy)``: a plugin got its share of the pool, ``busy()`` tells
        how many threads it holds (both feed the metrics)."""
        self.limits = config.limits
        self.drain_timeout_s = config.plugins.drain_timeout_s
        #: the header limits the server enforces as bytes arrive, and its refusal counts
        self.door = Door.from_limits(config.limits, config.server.header_timeout_s)
        self.shares = Shares(pool, config.wsgi.plugin_share, watch_busy)
        self.owners = Owners(plugins_dir)
        self._on_stall = on_stall
        self.stalls = StallWatch(config.server.loop_stall_ms / 1000, self.owners, self.stalled)
        self.signals = SignalGuard(reload_all, self.owners.plugin_of_module)
        self._counters: dict[str, PluginCounters] = {}
        self._gates: dict[str, Gate] = {}
        self._ticker: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"Containment({len(self._counters)} plugins, {self.shares!r})"

    # --- what the metrics read -------------------------------------------------------------

    def counters(self, plugin: str) -> PluginCounters:
        """The counters of ``plugin`` (created at zero on first use)."""
        counters = self._counters.get(plugin)
        if counters is None:
            counters = self._counters.setdefault(plugin, PluginCounters())
        return counters

    def counts(self) -> dict[str, PluginCounters]:
        """Every plugin's counters, by plugin name (a new dict; the counters are live)."""
        return dict(self._counters)

    def queued(self) -> dict[str, int]:
        """Requests waiting for a ``max_concurrency`` slot now, by plugin."""
        return {name: gate.waiting for name, gate in self._gates.items()}

    # --- what loads use ----------------------------------------------------------------------

    def executor_for(self, plugin: str) -> Executor:
        """The executor ``plugin``'s sync code (WSGI, sync functions, Django) runs on."""
        return self.shares.executor_for(plugin)

    def limits_for(self, overrides: Mapping[str, Any]) -> LimitsConfig:
        """The gateway's limits with a manifest's ``limits:`` (already validated) over them."""
        return self.limits.model_copy(update=dict(overrides)) if overrides else self.limits

    def wrap(
        self,
        app: ASGIApp,
        name: str,
        manifest: Manifest,
        generation: int,
        source: PluginSource | None,
    ) -> ASGIApp:
        """``app`` (version ``generation`` of plugin ``name``) behind its limits. ``source``
        is the in-process version's (None for an isolated plugin: its code runs elsewhere)."""
        if source is not None:
            package = source.namespace.package
            self.owners.add(package, name, generation)
            source.on_release(lambda: self.owners.discard(package))
            # The plugin's lifespan startup has just run on the main thread.
            self.signals.check(name)
        limits = self.limits_for(manifest.limits)
        counters = self.counters(name)
        if limits.max_concurrency is not None:
            gate = self._gates.get(name)
            if gate is None:
                gate = self._gates[name] = Gate(limits.max_concurrency)
            else:
                gate.resize(limits.max_concurrency)
            app = Gated(app, gate, name, counters)
        if limits.request_timeout_s is not None:
            app = Timeout(app, limits.request_timeout_s, name, counters)
        app = BodyLimit(app, limits.max_body_bytes, name, counters)
        door = self.door
        if limits.max_header_bytes > door.max_line or limits.max_headers > door.max_fields:
            logger.warning(
                "plugin %s: its header limits (max_header_bytes %d, max_headers %d) are above "
                "the gateway's (%d, %d), which apply at the door before any plugin is known",
                name,
                limits.max_header_bytes,
                limits.max_headers,
                door.max_line,
                door.max_fields,
            )
        if limits.max_header_bytes < door.max_line or limits.max_headers < door.max_fields:
            app = HeaderLimit(
                app,
                min(limits.max_header_bytes, door.max_line),
                min(limits.max_headers, door.max_fields),
                name,
                counters,
            )
        return app

    # --- while the server runs ---------------------------------------------------------------

    def start(self) -> None:
        """Watch the loop and take over the signals (call it on the loop, at start-up)."""
        self.signals.install()
        self.stalls.start()
        self._tick()

    async def stop(self) -> None:
        """Stop watching; give the signals back (at shutdown, once the plugins are closed)."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        self.stalls.stop()
        await self.signals.close()
        self.signals.uninstall()

    def stalled(self, plugin: str) -> None:
        """``plugin`` held an event loop past ``server.loop_stall_ms``: the gateway's own (the
        stall watchdog's thread calls this) or its isolated worker's (reported over the
        worker's socket). Counted in ``gateway_loop_stalls_total{plugin}``."""
        self.counters(plugin).loop_stalls += 1
        self._on_stall(plugin)

    def time_left_to_stop(self) -> float:
        """Seconds the plugins' shutdown may still take, for the process to end within
        ``drain_timeout_s`` + ``STOP_MARGIN_S`` of the signal that stopped it (counting the
        grace given to leftover threads at exit)."""
        asked = self.signals.stop_requested_at or time.monotonic()
        deadline = asked + self.drain_timeout_s + STOP_MARGIN_S - EXIT_GRACE_S - 1.0
        return max(0.5, deadline - time.monotonic())

    def _tick(self) -> None:
        self.stalls.beat()
        self.signals.check()
        self._ticker = asyncio.get_running_loop().call_later(self.stalls.tick, self._tick)
