"""The root ASGI app: one :class:`Gateway` puts the parts together (configuration, route
table, registry, shared WSGI pool, watcher, admin API) and dispatches each request.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .admin import build_admin_app
from .bytecode import BytecodeCache
from .config import DATA_DIR_NAME, Config
from .containment import DOOR_STATE_KEY, Containment
from .events import HookEvents
from .extensions import build_plugin_manager
from .loader import LoadServices
from .memory import freeze_heap
from .observability.hooks import PLUGIN_NAME, Observability
from .plugin import DISABLED, FAILED, SERVING, PluginInfo
from .registry import Registry, RegistrySettings
from .routing import PrefixTable
from .types import Receive, Scope, Send
from .watcher import PluginWatcher

logger = logging.getLogger(__name__)


def _json_response(status: int, body: bytes, *extra: tuple[bytes, bytes]) -> tuple[Any, Any]:
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *extra,
        ],
    }
    return start, {"type": "http.response.body", "body": body}


_NOT_FOUND = _json_response(404, b'{"detail":"Not Found"}')
#: before the first scan is done a path may belong to a plugin not loaded yet: never a 404
_STARTING = _json_response(
    503, b'{"detail":"starting: plugins are still loading"}', (b"retry-after", b"1")
)


class Gateway:
    """The gateway: an ASGI app serving every plugin of ``config.plugins.dir``.

    ``config.admin.token`` protects the admin API; without one, its protected endpoints
    refuse every request (``gateway run`` generates a token, see :mod:`gateway.admin.token`).
    """

    def __init__(self, config: Config, *, cwd: Path | None = None) -> None:
        self.config = config
        self.cwd = (cwd or Path.cwd()).resolve()
        self.plugins_dir = (self.cwd / config.plugins.dir).resolve()
        self.data_dir = self.cwd / DATA_DIR_NAME
        #: request ids, metrics and the access log; ``observability.metrics`` for the others
        self.observability = Observability(config)
        self.plugin_manager, _ = build_plugin_manager(
            config.extensions, builtins=[(self.observability, PLUGIN_NAME)]
        )
        #: every WSGI plugin and every sync function runs on this one bounded pool
        self.executor = ThreadPoolExecutor(
            max_workers=config.wsgi.threads, thread_name_prefix="gateway-wsgi"
        )
        self.routes = PrefixTable()
        self.events = HookEvents(self.plugin_manager.hook, self)
        #: limits, fair shares, stall and signal guards (contract section 13)
        metrics = self.observability.metrics
        self.containment = Containment(
            config,
            self.executor,
            self.plugins_dir,
            self.reload_all,
            on_stall=metrics.loop_stall,
            watch_busy=metrics.watch_wsgi_busy,
        )
        self.registry = Registry(
            RegistrySettings.from_config(config, self.plugins_dir),
            self.routes,
            self.plugin_manager.hook,
            LoadServices(
                self.executor,
                config,
                self.data_dir,
                BytecodeCache(self.data_dir / "bytecode"),
                executor_for=self.containment.executor_for,
                contain=self.containment.wrap,
                stalled=self.containment.stalled,
            ),
            self.events,
        )
        self.ready = False
        self._admin_prefix = config.admin.prefix
        self._admin = build_admin_app(
            self.registry,
            token=config.admin.token,
            is_ready=lambda: self.ready,
            metrics=self.observability.metrics,
        )
        #: answers what no plugin matches, counted and logged as plugin ""
        self._unmatched = self.observability.wrap(self._no_plugin, "")
        self._background: set[asyncio.Task[Any]] = set()
        self.watcher: PluginWatcher | None = None

    def __repr__(self) -> str:
        return f"Gateway(plugins_dir={str(self.plugins_dir)!r}, {self.registry!r})"

    def plugins(self) -> list[PluginInfo]:
        """Every plugin, as the admin API shows them."""
        return self.registry.infos()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        admin = self._admin_prefix
        if path.startswith(admin) and (len(path) == len(admin) or path[len(admin)] == "/"):
            scope["root_path"] = root_path + admin
            await self._admin(scope, receive, send)
            return
        mounted = self.routes.lookup(path)
        if mounted is not None:
            mounted.enter(scope, root_path)
            try:
                await mounted.app(scope, receive, send)
            finally:
                mounted.leave()
        else:
            await self._unmatched(scope, receive, send)

    async def _no_plugin(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            start, body = _NOT_FOUND if self.ready else _STARTING
            await send(start)
            await send(body)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000 if self.ready else 1013})

    async def startup(self) -> None:
        """Start serving: the extensions' start-up, then the first scan in the background."""
        self.containment.start()
        self.events.started()
        if self.config.plugins.watch:
            # Watch before the first scan, so a change made while it runs is not missed.
            self.watcher = PluginWatcher(
                self.plugins_dir,
                self.registry.load,
                settle_ms=self.config.plugins.settle_ms,
                poll=self.config.plugins.poll,
            )
            self.watcher.start()
        self._spawn(self._first_scan())

    async def shutdown(self) -> None:
        """Unload every plugin (draining and shutting each down), then free the pool."""
        if self.watcher is not None:
            await self.watcher.stop()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        # Bounded, so that SIGTERM stops the process in time whatever a plugin's shutdown does.
        budget = self.containment.time_left_to_stop()
        try:
            await asyncio.wait_for(self.registry.close(), budget)
        except TimeoutError:
            logger.warning("plugins not all shut down within %.1fs: stopping without them", budget)
        self.events.stopped()
        self.executor.shutdown(wait=False, cancel_futures=True)
        await self.containment.stop()

    async def reload_all(self) -> None:
        """Reload every plugin through the normal path (SIGHUP): each new version replaces
        the old one once it has started, the old one drains."""
        names = set(self.registry.folder_names()) | {i.name for i in self.registry.infos()}
        await asyncio.gather(*(self.registry.load(name) for name in sorted(names)))

    async def _first_scan(self) -> None:
        # Frozen as each plugin is tried, and once more at the end: collections would walk
        # every plugin's objects again and again (see memory.py).
        await self.registry.scan(after_each=freeze_heap)
        freeze_heap()
        self.ready = True
        infos = self.registry.infos()
        logger.info(
            "ready: %d plugin(s) serving, %d failed, %d disabled, in %s",
            sum(i.status in SERVING for i in infos),
            sum(i.status == FAILED for i in infos),
            sum(i.status == DISABLED for i in infos),
            self.plugins_dir,
        )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        if "state" in scope:  # how the server's protocol finds the door's limits and counts
            scope["state"][DOOR_STATE_KEY] = self.containment.door
        await receive()  # lifespan.startup
        try:
            await self.startup()
        except Exception as exc:
            logger.exception("gateway startup failed")
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        try:
            await self.shutdown()
        finally:
            await send({"type": "lifespan.shutdown.complete"})
