"""Per-plugin state and the one path every change goes through: load, replace, unload.

A load builds the new version completely (off the event loop: manifest, requirements,
import in a fresh namespace, adapt; then on the loop: lifespan startup) before it takes
traffic; then one route-table assignment swaps it in. The version it replaced is retired in
the background (:mod:`gateway.retire`). A load that fails at any step leaves the previous
version serving and records the error.

The registry is handed only what it uses: the route table it swaps versions in, the pluggy
hook relay the kinds answer on, its settings, the services lent to the kinds, and an event
sink for the lifecycle events.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from pluggy import HookRelay

from .config import Config
from .errors import (
    GatewayError,
    LifespanError,
    PluginCodeError,
    PluginError,
    PrefixConflict,
    PrefixReserved,
    RestartRequired,
)
from .extensions import wrap_app
from .lifespan import Lifespan, LifespanFailed
from .loader import LoadedApp, LoadServices, PluginSource, load_guarded
from .manifest import Manifest, is_candidate, read_manifest, validate_name
from .memory import trim_heap
from .namespace import Namespace, fresh_package_name
from .plugin import ACTIVE, DISABLED, FAILED, RESTART_REQUIRED, PluginInfo
from .retire import Retirement
from .routing import MountedApp, PrefixTable
from .state import PluginState, Version
from .types import ASGIApp

logger = logging.getLogger(__name__)


class PluginEvents(Protocol):
    """Where the registry reports what happened to a plugin (the lifecycle hooks)."""

    def plugin_loaded(self, info: PluginInfo) -> None: ...
    def plugin_failed(self, info: PluginInfo) -> None: ...
    def plugin_unloaded(self, info: PluginInfo) -> None: ...


@dataclass(frozen=True)
class RegistrySettings:
    """The settings the registry acts on."""

    plugins_dir: Path
    admin_prefix: str
    drain_timeout_s: float
    load_timeout_s: float

    @classmethod
    def from_config(cls, config: Config, plugins_dir: Path) -> RegistrySettings:
        return cls(
            plugins_dir=plugins_dir,
            admin_prefix=config.admin.prefix,
            drain_timeout_s=config.plugins.drain_timeout_s,
            load_timeout_s=config.plugins.load_timeout_s,
        )


class Registry:
    """The plugins of one gateway, keyed by folder name."""

    def __init__(
        self,
        settings: RegistrySettings,
        routes: PrefixTable,
        hooks: HookRelay,
        services: LoadServices,
        events: PluginEvents,
        *,
        reclaim: Callable[[], None] = trim_heap,
    ) -> None:
        self.settings = settings
        self.routes = routes
        self.hooks = hooks
        self.services = services
        self.events = events
        self._plugins: dict[str, PluginState] = {}
        self._packages = itertools.count(1)
        # Imports run here, one at a time, so loading never blocks the event loop and two
        # loads never interleave their imports.
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-loader")
        self._retirement = Retirement(
            settings.drain_timeout_s, on_unloaded=events.plugin_unloaded, reclaim=reclaim
        )
        self._retrying: set[str] = set()

    def __repr__(self) -> str:
        return f"Registry({len(self._plugins)} plugins)"

    @property
    def root(self) -> Path:
        return self.settings.plugins_dir

    def __contains__(self, name: object) -> bool:
        return name in self._plugins

    def infos(self) -> list[PluginInfo]:
        return [self._plugins[name].info() for name in sorted(self._plugins)]

    def info(self, name: str) -> PluginInfo | None:
        state = self._plugins.get(name)
        return state.info() if state else None

    def describe_routes(self, name: str) -> list[str]:
        """The routes of the version of ``name`` that serves (``gateway check``)."""
        state = self._plugins.get(name)
        if state is None or state.current is None:
            return []
        loaded = state.current.loaded
        routes = self.hooks.gateway_describe_routes(app=loaded.app, framework=loaded.framework)
        return list(routes or [])

    def folder_names(self) -> list[str]:
        """The plugin folders present now (hidden and staging folders left out)."""
        try:
            return sorted(
                p.name for p in self.root.iterdir() if p.is_dir() and is_candidate(p.name)
            )
        except FileNotFoundError:
            return []

    async def scan(self) -> None:
        """Bring the registry in line with the folder: load new plugins, drop removed ones."""
        present = self.folder_names()
        for name in sorted(set(self._plugins) - set(present)):
            await self.unload(name)
        for name in present:
            if name not in self._plugins or self._plugins[name].current is None:
                await self.load(name)

    async def load(self, name: str) -> PluginInfo:
        """Load (or reload) ``name`` from its folder; unload it if the folder is gone."""
        if not is_candidate(name) or not (self.root / name).is_dir():
            await self.unload(name)
            return PluginState(name).info()
        state = self._plugins.setdefault(name, PluginState(name))
        async with state.lock:
            await self._load_locked(state)
        return state.info()

    async def unload(self, name: str) -> None:
        """Unmount ``name``: new requests 404, in-flight ones finish, then it is shut down."""
        state = self._plugins.get(name)
        if state is None:
            return
        async with state.lock:
            if self._plugins.get(name) is state:
                del self._plugins[name]
            version, state.current = state.current, None
            if version is not None:
                self._unmount(state, version, "unmounted")

    async def settled(self) -> None:
        """Wait until every replaced or removed version has been retired (drained, shut down,
        released) and every retry of a freed prefix is done."""
        await self._retirement.wait()

    async def close(self) -> None:
        """Unload every plugin and wait for every version to be shut down."""
        self._retirement.closing = True
        await asyncio.gather(*(self.unload(name) for name in list(self._plugins)))
        await self._retirement.wait()
        self._loader.shutdown(wait=False, cancel_futures=True)

    async def _load_locked(self, state: PluginState) -> None:
        name = state.name
        folder = self.root / name
        started = time.perf_counter()
        try:
            validate_name(name)
            manifest = read_manifest(folder, name)
        except PluginError as exc:
            self._failed(state, exc, started)
            return
        state.prefix = manifest.prefix
        state.framework = manifest.framework or state.framework
        if not manifest.enabled:
            self._disable(state)
            return
        namespace = Namespace(
            folder,
            fresh_package_name(name, self._packages),
            self.services.data_dir / "plugins" / name,
        )
        source = PluginSource(name, folder, manifest, namespace, self.services)
        try:
            self._check_prefix(name, manifest)
            loaded = await asyncio.get_running_loop().run_in_executor(
                self._loader, load_guarded, source, self.hooks
            )
            lifespan = await self._start(loaded)
            try:
                # Another plugin may have claimed the prefix while this one was loading.
                self._check_prefix(name, manifest)
                upcoming = self._upcoming(state, loaded)
                app = self._wrap(loaded, upcoming)
            except PluginError:
                await lifespan.shutdown(self.settings.drain_timeout_s)
                raise
        except GatewayError as exc:
            source.release()
            namespace.release()
            self._failed(state, exc, started)
            return
        mounted = MountedApp(name, manifest.prefix, app, upcoming.generation, lifespan.state)
        self._activate(
            state, Version(mounted, loaded, lifespan, manifest.prefix), upcoming, started
        )

    async def _start(self, loaded: LoadedApp) -> Lifespan:
        name, timeout = loaded.source.name, self.settings.load_timeout_s
        lifespan = Lifespan(loaded.asgi_app, name)
        try:
            await lifespan.startup(timeout)
        except LifespanFailed as exc:
            raise LifespanError(f"lifespan startup failed: {exc}", plugin=name) from None
        except TimeoutError:
            raise LifespanError(
                f"lifespan startup did not finish within {timeout:g}s", plugin=name
            ) from None
        return lifespan

    @staticmethod
    def _upcoming(state: PluginState, loaded: LoadedApp) -> PluginInfo:
        """The plugin as it will be once ``loaded`` serves."""
        return dataclasses.replace(
            state.info(),
            framework=loaded.framework,
            status=ACTIVE,
            generation=state.generation + 1,
            loaded_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
            error=None,
        )

    def _wrap(self, loaded: LoadedApp, upcoming: PluginInfo) -> ASGIApp:
        app = loaded.asgi_app
        if self.services.contain is not None:  # the plugin's limits, inside extensions' wraps
            app = self.services.contain(app, loaded.source, upcoming.generation)
        try:
            return wrap_app(self.hooks, app, upcoming)
        except Exception as exc:  # an extension's middleware failed to build
            raise PluginCodeError(
                type(exc).__name__,
                f"an extension's gateway_wrap_app failed: {type(exc).__name__}: {exc}",
                plugin=upcoming.name,
            ) from exc

    def _activate(
        self, state: PluginState, version: Version, info: PluginInfo, started: float
    ) -> None:
        old = state.current
        # The swap: one assignment, then the old prefix (if the prefix changed) goes away.
        self.routes.set(version.prefix, version.mounted)
        if old is not None and old.prefix != version.prefix:
            self.routes.remove(old.prefix, old.mounted)
        state.current = version
        state.framework = info.framework
        state.generation = info.generation
        state.status = ACTIVE
        state.last_error = None
        state.loaded_at = info.loaded_at
        logger.info(
            "plugin %s: loaded generation %d (%s at %s) in %.0f ms",
            state.name,
            info.generation,
            info.framework,
            version.prefix,
            (time.perf_counter() - started) * 1000,
        )
        self.events.plugin_loaded(info)
        if old is not None:
            self._retirement.retire(old, info, unloaded=False)
            if old.prefix != version.prefix:
                self._retry_waiting_for(old.prefix)

    def _disable(self, state: PluginState) -> None:
        version, state.current = state.current, None
        state.status = DISABLED
        state.last_error = None
        if version is not None:
            self._unmount(state, version, "disabled, unmounted")
        else:
            logger.info("plugin %s: disabled", state.name)

    def _unmount(self, state: PluginState, version: Version, what: str) -> None:
        """Take ``version`` out of the route table and retire it (the plugin is gone)."""
        self.routes.remove(version.prefix, version.mounted)
        logger.info("plugin %s: %s generation %d", state.name, what, version.generation)
        self._retirement.retire(version, state.info(), unloaded=True)
        self._retry_waiting_for(version.prefix)

    def _failed(self, state: PluginState, exc: GatewayError, started: float) -> None:
        if not isinstance(exc, PluginError):  # a kind raised another user error
            exc = PluginError(str(exc), plugin=state.name)
        state.last_error = exc
        if state.current is None:
            state.status = FAILED
        elif isinstance(exc, RestartRequired):
            state.status = RESTART_REQUIRED
        serving = f"generation {state.generation} still serving" if state.current else "not serving"
        logger.warning(
            "plugin %s: load failed in %.0f ms (%s): %s",
            state.name,
            (time.perf_counter() - started) * 1000,
            serving,
            exc,
        )
        self.events.plugin_failed(state.info())

    def _check_prefix(self, name: str, manifest: Manifest) -> None:
        prefix, admin = manifest.prefix, self.settings.admin_prefix
        where = manifest.file or self.root / name
        if prefix == admin or prefix.startswith(admin + "/"):
            raise PrefixReserved(
                f"prefix {prefix!r} is reserved for the admin API ({admin!r})",
                plugin=name,
                file=where,
            )
        holder = self.routes.get(prefix)
        if holder is not None and holder.name != name:
            raise PrefixConflict(
                f"prefix {prefix!r} is already served by plugin {holder.name!r}; "
                f"plugin {name!r} cannot claim it too",
                plugin=name,
                prefix=prefix,
                holder=holder.name,
                file=where,
            )

    def _retry_waiting_for(self, freed: str) -> None:
        """``freed`` is free again: a plugin that failed for want of it gets another try."""
        if self._retirement.closing:
            return
        for state in list(self._plugins.values()):
            if state.waits_for(freed) and state.name not in self._retrying:
                self._retrying.add(state.name)
                self._retirement.spawn(self._retry(state.name))

    async def _retry(self, name: str) -> None:
        try:
            await self.load(name)
        finally:
            self._retrying.discard(name)


__all__ = ["PluginEvents", "Registry", "RegistrySettings"]
