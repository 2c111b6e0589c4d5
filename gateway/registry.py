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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from pluggy import HookRelay

from .config import Config
from .errors import (
    GatewayError,
    LifespanError,
    LoadTimeout,
    PluginCodeError,
    PluginError,
    PrefixConflict,
    PrefixReserved,
    RestartRequired,
)
from .extensions import wrap_app
from .isolation import IsolatedPlugin, WorkerSpec
from .lifespan import Lifespan, LifespanFailed
from .loader import LoadedApp, LoadServices, PluginSource, load_guarded
from .loadpool import LoadPool
from .manifest import Manifest, is_candidate, read_manifest, validate_name
from .memory import trim_heap
from .namespace import Namespace, fresh_package_name
from .plugin import (
    ACTIVE,
    DISABLED,
    FAILED,
    ISOLATION_NONE,
    ISOLATION_PROCESS,
    RESTART_REQUIRED,
    PluginInfo,
)
from .retire import Retirement
from .routing import MountedApp, PrefixTable
from .state import AnyVersion, IsolatedVersion, PluginState, Version
from .types import ASGIApp

logger = logging.getLogger(__name__)

#: loads waited for at once (each in a thread of its own, see :mod:`gateway.loadpool`)
PARALLEL_LOADS = 4


class PluginEvents(Protocol):
    """Where the registry reports what happened to a plugin (the lifecycle hooks)."""

    def plugin_loaded(self, info: PluginInfo) -> None: ...
    def plugin_failed(self, info: PluginInfo) -> None: ...
    def plugin_unloaded(self, info: PluginInfo) -> None: ...
    def plugin_restarting(self, info: PluginInfo) -> None: ...
    def plugin_recovered(self, info: PluginInfo) -> None: ...


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
        # Manifests are parsed and plugins imported off the event loop, several at once, each
        # load with its deadline: a hung import delays nothing but itself.
        self._pool = LoadPool(PARALLEL_LOADS)
        # Prefixes claimed by loads under way: two plugins loading at once for one prefix
        # conflict as surely as with one already mounted, and the first to start wins.
        self._claims: dict[str, str] = {}
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
        """Every plugin a load has been tried for, by name."""
        states = (self._plugins[name] for name in sorted(self._plugins))
        return [state.info() for state in states if state.attempted]

    def info(self, name: str) -> PluginInfo | None:
        state = self._plugins.get(name)
        return state.info() if state is not None and state.attempted else None

    def describe_routes(self, name: str) -> list[str]:
        """The routes of the version of ``name`` that serves (``gateway check``)."""
        state = self._plugins.get(name)
        if state is None or state.current is None:
            return []
        if not isinstance(state.current, Version):  # isolated: as its processes said
            return state.current.plugin.routes()
        loaded = state.current.loaded
        routes = self.hooks.gateway_describe_routes(app=loaded.app, framework=loaded.framework)
        return list(routes or [])

    def serving(self) -> list[tuple[PluginInfo, AnyVersion]]:
        """Every plugin with a version serving, and that version (for the merged OpenAPI
        document), in-process and isolated alike."""
        return [
            (state.info(), state.current)
            for name, state in sorted(self._plugins.items())
            if state.current is not None
        ]

    def folder_names(self) -> list[str]:
        """The plugin folders present now (hidden and staging folders left out)."""
        try:
            return sorted(
                p.name for p in self.root.iterdir() if p.is_dir() and is_candidate(p.name)
            )
        except FileNotFoundError:
            return []

    async def scan(self, after_each: Callable[[], None] | None = None) -> None:
        """Bring the registry in line with the folder: load new plugins, drop removed ones.

        New plugins load in parallel, each bounded by ``load_timeout_s``. Their manifests are
        read first, so that the loads start in name order and, of two plugins claiming one
        prefix, the first by name gets it, as when they loaded one after the other.
        ``after_each`` is called on the event loop each time one of them has been tried.
        """
        present = self.folder_names()
        for name in sorted(set(self._plugins) - set(present)):
            await self.unload(name)
        names = [n for n in present if n not in self._plugins or self._plugins[n].current is None]
        manifests = await asyncio.gather(*(self._read(name) for name in names))

        async def load(name: str, manifest: Manifest | PluginError) -> None:
            await self._load(name, manifest)
            if after_each is not None:
                after_each()

        await asyncio.gather(
            *(load(name, manifest) for name, manifest in zip(names, manifests, strict=True))
        )

    async def load(self, name: str) -> PluginInfo:
        """Load (or reload) ``name`` from its folder; unload it if the folder is gone."""
        return await self._load(name, None)

    async def _load(self, name: str, read: Manifest | PluginError | None) -> PluginInfo:
        if not is_candidate(name) or not (self.root / name).is_dir():
            await self.unload(name)
            return PluginState(name).info()
        state = self._plugins.setdefault(name, PluginState(name))
        async with state.lock:
            try:
                await self._load_locked(state, read)
            finally:
                state.attempted = True
        return state.info()

    async def _read(self, name: str) -> Manifest | PluginError:
        """The plugin's name checked and its manifest read, off the event loop (a hostile
        manifest costs a thread, not every plugin's requests)."""

        def read() -> Manifest:
            validate_name(name)
            return read_manifest(self.root / name, name)

        try:
            return await self._pool.run(
                read, timeout=self.settings.load_timeout_s, name=f"gateway-manifest:{name[:64]}"
            )
        except PluginError as exc:
            return exc
        except TimeoutError:
            return LoadTimeout(
                f"reading plugin.yaml took longer than load_timeout_s "
                f"({self.settings.load_timeout_s:g}s)",
                plugin=name,
            )

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
        for thread in self._pool.abandoned():
            logger.warning("a load that missed its deadline is still running in %s", thread.name)
        self._pool.close()

    async def _load_locked(self, state: PluginState, read: Manifest | PluginError | None) -> None:
        name = state.name
        started = time.perf_counter()
        deadline = started + self.settings.load_timeout_s
        manifest = read if read is not None else await self._read(name)
        if isinstance(manifest, PluginError):
            self._failed(state, manifest, started)
            return
        state.prefix = manifest.prefix
        state.framework = manifest.framework or state.framework
        if not manifest.enabled:
            self._disable(state)
            return
        try:
            self._check_prefix(name, manifest)
        except PluginError as exc:
            self._failed(state, exc, started)
            return
        self._claims[manifest.prefix] = name
        isolation = manifest.isolation or self.services.config.plugins.isolation
        state.isolation = isolation
        build = self._build_isolated if isolation == ISOLATION_PROCESS else self._build
        try:
            version, upcoming = await build(state, manifest, deadline)
        except GatewayError as exc:
            self._failed(state, exc, started)
            return
        finally:
            if self._claims.get(manifest.prefix) == name:
                del self._claims[manifest.prefix]
        self._activate(state, version, upcoming, started)

    async def _build(
        self, state: PluginState, manifest: Manifest, deadline: float
    ) -> tuple[Version, PluginInfo]:
        """Import, start and wrap a new version of ``state``'s plugin, all before
        ``deadline``; on failure nothing of it is left."""
        name, folder = state.name, self.root / state.name
        namespace = Namespace(
            folder,
            fresh_package_name(name, self._packages),
            self.services.data_dir / "plugins" / name,
            self.services.bytecode,
        )
        source = PluginSource(name, folder, manifest, namespace, self.services)

        def release() -> None:
            source.release()
            namespace.release()

        try:
            loaded = await self._pool.run(
                lambda: load_guarded(source, self.hooks),
                timeout=self._remaining(deadline),
                name=f"gateway-load:{name[:64]}",
                when_late=release,  # an abandoned import that ends after all
            )
        except TimeoutError:
            raise self._timeout(name, "importing it") from None
        except GatewayError:
            release()
            raise
        try:
            lifespan = await self._start(loaded, deadline)
            try:
                # Another plugin may have claimed the prefix while this one was loading.
                self._check_prefix(name, manifest)
                upcoming = self._upcoming(state, loaded.framework, ISOLATION_NONE)
                app = self._wrap(loaded.asgi_app, manifest, upcoming, loaded.source)
            except PluginError:
                await lifespan.shutdown(self.settings.drain_timeout_s)
                raise
        except GatewayError:
            release()
            raise
        mounted = MountedApp(name, manifest.prefix, app, upcoming.generation, lifespan.state)
        return Version(mounted, loaded, lifespan, manifest.prefix), upcoming

    async def _build_isolated(
        self, state: PluginState, manifest: Manifest, deadline: float
    ) -> tuple[IsolatedVersion, PluginInfo]:
        """Start the worker processes of a new version of ``state``'s plugin and wrap its
        proxy app, all before ``deadline``; on failure no process is left."""
        name = state.name
        spec = WorkerSpec.for_plugin(
            name, self.root / name, manifest, self.services.config, self.services.data_dir
        )
        holder: list[IsolatedVersion] = []

        def changed(status: str) -> None:
            if status == ACTIVE and holder and state.current is holder[0]:
                self.events.plugin_recovered(state.info())

        def restarting() -> None:
            if holder and state.current is holder[0]:
                self.events.plugin_restarting(state.info())

        stalled = self.services.stalled
        plugin = IsolatedPlugin(
            spec,
            on_status=changed,
            on_restart=restarting,
            on_stall=(lambda: stalled(name)) if stalled is not None else None,
            drain_timeout_s=self.settings.drain_timeout_s,
        )
        # Started from the event loop's thread: a worker's PR_SET_PDEATHSIG follows the
        # thread that started it (gateway/isolation/worker.py).
        await plugin.start(self._remaining(deadline))
        try:
            self._check_prefix(name, manifest)
            upcoming = self._upcoming(state, plugin.framework or "isolated", ISOLATION_PROCESS)
            app = self._wrap(plugin.app, manifest, upcoming, None)
        except PluginError:
            await plugin.stop(self.settings.drain_timeout_s)
            raise
        mounted = MountedApp(name, manifest.prefix, app, upcoming.generation, {})
        version = IsolatedVersion(mounted, plugin, manifest.prefix, upcoming.framework or "")
        holder.append(version)
        return version, upcoming

    def _remaining(self, deadline: float) -> float:
        return max(0.0, deadline - time.perf_counter())

    def _timeout(self, name: str, doing: str) -> LoadTimeout:
        return LoadTimeout(
            f"{doing} took longer than load_timeout_s ({self.settings.load_timeout_s:g}s); "
            "the previous version, if any, keeps serving",
            plugin=name,
        )

    async def _start(self, loaded: LoadedApp, deadline: float) -> Lifespan:
        name = loaded.source.name
        lifespan = Lifespan(loaded.asgi_app, name)
        try:
            await lifespan.startup(self._remaining(deadline))
        except LifespanFailed as exc:
            raise LifespanError(f"lifespan startup failed: {exc}", plugin=name) from None
        except TimeoutError:
            raise self._timeout(name, "importing it and running its lifespan startup") from None
        return lifespan

    @staticmethod
    def _upcoming(state: PluginState, framework: str, isolation: str) -> PluginInfo:
        """The plugin as it will be once the version being loaded serves."""
        return dataclasses.replace(
            state.info(),
            framework=framework,
            isolation=isolation,
            status=ACTIVE,
            generation=state.generation + 1,
            loaded_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
            error=None,
        )

    def _wrap(
        self, app: ASGIApp, manifest: Manifest, upcoming: PluginInfo, source: PluginSource | None
    ) -> ASGIApp:
        """``app`` behind the plugin's limits, then wrapped by the extensions (and the
        gateway's own instrumentation, outermost: it sees the limits' 413/503/504)."""
        if self.services.contain is not None:
            app = self.services.contain(app, upcoming.name, manifest, upcoming.generation, source)
        try:
            return wrap_app(self.hooks, app, upcoming)
        except Exception as exc:  # an extension's middleware failed to build
            raise PluginCodeError(
                type(exc).__name__,
                f"an extension's gateway_wrap_app failed: {type(exc).__name__}: {exc}",
                plugin=upcoming.name,
            ) from exc

    def _activate(
        self, state: PluginState, version: AnyVersion, info: PluginInfo, started: float
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
            extra={"plugin": state.name, "generation": info.generation},
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
            logger.info(
                "plugin %s: disabled",
                state.name,
                extra={"plugin": state.name, "generation": state.generation},
            )

    def _unmount(self, state: PluginState, version: AnyVersion, what: str) -> None:
        """Take ``version`` out of the route table and retire it (the plugin is gone)."""
        self.routes.remove(version.prefix, version.mounted)
        logger.info(
            "plugin %s: %s generation %d",
            state.name,
            what,
            version.generation,
            extra={"plugin": state.name, "generation": version.generation},
        )
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
            extra={"plugin": state.name, "generation": state.generation},
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
        mounted = self.routes.get(prefix)
        holder = mounted.name if mounted is not None else self._claims.get(prefix)
        if holder is not None and holder != name:
            doing = "served" if mounted is not None else "being loaded"
            raise PrefixConflict(
                f"prefix {prefix!r} is already {doing} by plugin {holder!r}; "
                f"plugin {name!r} cannot claim it too",
                plugin=name,
                prefix=prefix,
                holder=holder,
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
