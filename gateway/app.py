"""The root ASGI app: one :class:`Gateway` owns the configuration, the route table, the
plugin registry, the shared WSGI thread pool and the admin API, and dispatches each request.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .admin import build_admin_app
from .config import Config
from .extensions import build_plugin_manager
from .registry import PluginInfo, Registry
from .routing import PrefixTable
from .types import Receive, Scope, Send
from .watcher import PluginWatcher

logger = logging.getLogger(__name__)

_NOT_FOUND_BODY = b'{"detail":"Not Found"}'
_NOT_FOUND_START = {
    "type": "http.response.start",
    "status": 404,
    "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(_NOT_FOUND_BODY)).encode()),
    ],
}


class Gateway:
    """The gateway: an ASGI app serving every plugin of ``config.plugins.dir``."""

    def __init__(
        self, config: Config, *, cwd: Path | None = None, token: str | None = None
    ) -> None:
        self.config = config
        self.cwd = (cwd or Path.cwd()).resolve()
        self.plugins_dir = (self.cwd / config.plugins.dir).resolve()
        #: process-wide runtimes of the framework kinds (Django's), keyed by kind
        self.runtimes: dict[str, Any] = {}
        self.plugin_manager, self.extension_errors = build_plugin_manager(config.extensions)
        #: every WSGI plugin and every sync function runs on this one bounded pool
        self.executor = ThreadPoolExecutor(
            max_workers=config.wsgi.threads, thread_name_prefix="gateway-wsgi"
        )
        self.routes = PrefixTable()
        self.registry = Registry(self)
        #: the admin token: configured, handed down by the CLI, or generated here
        self.token = config.admin.token or token or secrets.token_urlsafe(24)
        self.token_generated = not (config.admin.token or token)
        self.ready = False
        self._admin_prefix = config.admin.prefix
        self._admin = build_admin_app(self)
        self._background: set[asyncio.Task[Any]] = set()
        self.watcher: PluginWatcher | None = None

    def __repr__(self) -> str:
        return f"Gateway(plugins_dir={str(self.plugins_dir)!r}, {self.registry!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
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
        elif scope["type"] == "http":
            await send(_NOT_FOUND_START)
            await send({"type": "http.response.body", "body": _NOT_FOUND_BODY})
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000})

    async def startup(self) -> None:
        """Start serving: process-wide runtimes, then the first scan in the background."""
        await self.startup_runtime()
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

    async def startup_runtime(self) -> None:
        """Let the kinds and extensions set up what they share (``gateway_started``)."""
        self.notify("gateway_started", gateway=self)

    async def shutdown(self) -> None:
        """Unload every plugin (draining and shutting each down), then free the pool."""
        if self.watcher is not None:
            await self.watcher.stop()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.registry.close()
        self.notify("gateway_stopped", gateway=self)
        self.executor.shutdown(wait=False, cancel_futures=True)

    def notify(self, hook_name: str, plugin: PluginInfo | None = None, **kwargs: Any) -> None:
        """Call a lifecycle hook; an extension failing in it is logged, never raised."""
        if plugin is not None:
            kwargs["plugin"] = plugin
            kwargs["gateway"] = self
        try:
            getattr(self.plugin_manager.hook, hook_name)(**kwargs)
        except Exception:
            logger.exception("an extension failed in %s", hook_name)

    async def _first_scan(self) -> None:
        await self.registry.scan()
        self.ready = True
        infos = self.registry.infos()
        logger.info(
            "ready: %d plugin(s) active, %d failed, %d disabled, in %s",
            sum(i.status == "active" for i in infos),
            sum(i.status == "failed" for i in infos),
            sum(i.status == "disabled" for i in infos),
            self.plugins_dir,
        )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
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
