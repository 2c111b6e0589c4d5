"""Per-plugin state and the one path every change goes through: load, replace, unload.

A load builds the new version completely (off the event loop: manifest, requirements,
import in a fresh namespace, adapt; then on the loop: lifespan startup) before it takes
traffic; then one route-table assignment swaps it in. The version it replaced drains its
in-flight requests (up to ``drain_timeout_s``), has its lifespan shut down and its modules
released, in the background. A load that fails at any step leaves the previous version
serving and records the error.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import GatewayError, PluginError, RestartRequired
from .lifespan import Lifespan, LifespanFailed
from .loader import LoadedApp, PluginSource, load_app
from .manifest import Manifest, is_candidate, read_manifest, validate_name
from .namespace import PACKAGE_PREFIX, Namespace
from .routing import MountedApp

if TYPE_CHECKING:
    from .app import Gateway

logger = logging.getLogger(__name__)

ACTIVE, FAILED, DISABLED, RESTART_REQUIRED = "active", "failed", "disabled", "restart-required"
#: how long a plugin's lifespan startup may take before its load fails
STARTUP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class PluginInfo:
    """What the admin API and the lifecycle hooks see of a plugin."""

    name: str
    framework: str | None
    prefix: str | None
    status: str
    generation: int
    loaded_at: str | None
    error: dict[str, str] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "framework": self.framework,
            "prefix": self.prefix,
            "status": self.status,
            "generation": self.generation,
            "loaded_at": self.loaded_at,
            "error": self.error,
        }


@dataclass
class Version:
    """A loaded version of a plugin: what serves, and what to release once it is replaced."""

    mounted: MountedApp
    app: object
    lifespan: Lifespan
    namespace: Namespace
    framework: str
    prefix: str


class PluginState:
    """Everything the registry knows of one plugin folder."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.framework: str | None = None
        self.prefix: str | None = None
        self.status = FAILED
        self.generation = 0
        self.loaded_at: str | None = None
        self.error: dict[str, str] | None = None
        self.current: Version | None = None
        self.lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"PluginState({self.name!r}, status={self.status!r}, gen={self.generation})"

    def info(self) -> PluginInfo:
        return PluginInfo(
            self.name,
            self.framework,
            self.prefix,
            self.status,
            self.generation,
            self.loaded_at,
            self.error,
        )


class Registry:
    """The plugins of one gateway, keyed by folder name."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.plugins: dict[str, PluginState] = {}
        self._attempts = 0
        self._background: set[asyncio.Task[None]] = set()
        # Imports run here, one at a time, so loading never blocks the event loop and two
        # loads never interleave their imports.
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-loader")
        self._malloc_trim = _find_malloc_trim()
        self._retiring = 0
        self._retrying: set[str] = set()
        self._closing = False

    def __repr__(self) -> str:
        return f"Registry({len(self.plugins)} plugins)"

    @property
    def root(self) -> Path:
        return self.gateway.plugins_dir

    def infos(self) -> list[PluginInfo]:
        return [self.plugins[name].info() for name in sorted(self.plugins)]

    def info(self, name: str) -> PluginInfo | None:
        state = self.plugins.get(name)
        return state.info() if state else None

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
        for name in sorted(set(self.plugins) - set(present)):
            await self.unload(name)
        for name in present:
            if name not in self.plugins or self.plugins[name].current is None:
                await self.load(name)

    async def load(self, name: str) -> PluginInfo:
        """Load (or reload) ``name`` from its folder; unload it if the folder is gone."""
        if not (self.root / name).is_dir() or not is_candidate(name):
            await self.unload(name)
            return PluginState(name).info()
        state = self.plugins.setdefault(name, PluginState(name))
        async with state.lock:
            await self._load_locked(state)
        return state.info()

    async def unload(self, name: str) -> None:
        """Unmount ``name``: new requests 404, in-flight ones finish, then it is shut down."""
        state = self.plugins.get(name)
        if state is None:
            return
        async with state.lock:
            if self.plugins.get(name) is state:
                del self.plugins[name]
            version = state.current
            state.current = None
            if version is not None:
                self.gateway.routes.remove(version.prefix, version.mounted)
                logger.info("plugin %s: unmounted generation %d", name, state.generation)
                self._in_background(self._retire(version, state.info(), unloaded=True))
        if version is not None:
            self._retry_prefix_conflicts(version.prefix)

    async def close(self) -> None:
        """Unload every plugin and wait for every version to be shut down."""
        self._closing = True
        await asyncio.gather(*(self.unload(name) for name in list(self.plugins)))
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
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
        try:
            self._check_prefix(name, manifest)
        except PluginError as exc:
            self._failed(state, exc, started)
            return
        namespace = Namespace(folder, self._package_name(name))
        source = PluginSource(name, folder, manifest, namespace, self.gateway)
        try:
            loaded = await asyncio.get_running_loop().run_in_executor(
                self._loader, _load_guarded, source
            )
            lifespan = Lifespan(loaded.asgi_app, name)
            try:
                await lifespan.startup(STARTUP_TIMEOUT_S)
            except LifespanFailed as exc:
                raise PluginError(
                    f"lifespan startup failed: {exc}", plugin=name, kind="LifespanError"
                ) from None
            except TimeoutError:
                raise PluginError(
                    f"lifespan startup did not finish within {STARTUP_TIMEOUT_S:g}s",
                    plugin=name,
                    kind="LifespanError",
                ) from None
            try:
                # Another plugin may have claimed the prefix while this one was loading.
                self._check_prefix(name, manifest)
            except PluginError:
                await lifespan.shutdown(self.gateway.config.plugins.drain_timeout_s)
                raise
        except GatewayError as exc:
            namespace.release()
            self._failed(state, exc, started)
            return
        self._activate(state, manifest, loaded, lifespan, started)

    def _activate(
        self,
        state: PluginState,
        manifest: Manifest,
        loaded: LoadedApp,
        lifespan: Lifespan,
        started: float,
    ) -> None:
        generation = state.generation + 1
        mounted = MountedApp(
            state.name, manifest.prefix, loaded.asgi_app, generation, lifespan.state
        )
        old = state.current
        # The swap: one assignment, then the old prefix (if the prefix changed) goes away.
        self.gateway.routes.set(manifest.prefix, mounted)
        if old is not None and old.prefix != manifest.prefix:
            self.gateway.routes.remove(old.prefix, old.mounted)
        state.current = Version(
            mounted,
            loaded.app,
            lifespan,
            loaded.source.namespace,
            loaded.framework,
            manifest.prefix,
        )
        state.framework = loaded.framework
        state.generation = generation
        state.status = ACTIVE
        state.error = None
        state.loaded_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        logger.info(
            "plugin %s: loaded generation %d (%s at %s) in %.0f ms",
            state.name,
            generation,
            loaded.framework,
            manifest.prefix,
            (time.perf_counter() - started) * 1000,
        )
        self.gateway.notify("gateway_plugin_loaded", state.info())
        if old is not None:
            self._in_background(self._retire(old, state.info(), unloaded=False))
            if old.prefix != manifest.prefix:
                self._retry_prefix_conflicts(old.prefix)

    def _disable(self, state: PluginState) -> None:
        version = state.current
        state.current = None
        state.status = DISABLED
        state.error = None
        if version is not None:
            self.gateway.routes.remove(version.prefix, version.mounted)
            logger.info(
                "plugin %s: disabled, unmounted generation %d", state.name, state.generation
            )
            self._in_background(self._retire(version, state.info(), unloaded=True))
            self._retry_prefix_conflicts(version.prefix)
        else:
            logger.info("plugin %s: disabled", state.name)

    def _failed(self, state: PluginState, exc: GatewayError, started: float) -> None:
        state.error = {"type": exc.kind, "message": str(exc)}
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
        self.gateway.notify("gateway_plugin_failed", state.info())

    def _check_prefix(self, name: str, manifest: Manifest) -> None:
        prefix, admin = manifest.prefix, self.gateway.config.admin.prefix
        where = manifest.file or self.root / name
        if prefix == admin or prefix.startswith(admin + "/"):
            raise PluginError(
                f"prefix {prefix!r} is reserved for the admin API ({admin!r})",
                plugin=name,
                file=where,
                kind="PrefixReserved",
            )
        holder = self.gateway.routes.get(prefix)
        if holder is not None and holder.name != name:
            raise PluginError(
                f"prefix {prefix!r} is already served by plugin {holder.name!r}; "
                f"plugin {name!r} cannot claim it too",
                plugin=name,
                file=where,
                kind="PrefixConflict",
            )

    def _package_name(self, name: str) -> str:
        """A package name no module in the process has: ``sys.modules`` is shared by every
        gateway in the process, not only this registry's plugins."""
        base = f"{PACKAGE_PREFIX}{name.replace('-', '_')}_"
        while True:
            self._attempts += 1
            if base + str(self._attempts) not in sys.modules:
                return base + str(self._attempts)

    def _retry_prefix_conflicts(self, freed: str) -> None:
        """``freed`` is free again: a plugin that failed for want of it gets another try."""
        if self._closing:
            return
        for state in list(self.plugins.values()):
            waiting = state.error is not None and state.error["type"] == "PrefixConflict"
            wants_it = waiting and state.current is None and state.prefix == freed
            if wants_it and state.name not in self._retrying:
                self._retrying.add(state.name)
                self._in_background(self._retry(state.name))

    async def _retry(self, name: str) -> None:
        try:
            await self.load(name)
        finally:
            self._retrying.discard(name)

    async def _retire(self, version: Version, info: PluginInfo, *, unloaded: bool) -> None:
        """Drain a replaced or removed version, shut it down and release its modules."""
        self._retiring += 1
        try:
            await self._retire_one(version, info, unloaded=unloaded)
        finally:
            self._retiring -= 1
        # One collection after a burst (a folder removed with many plugins in it), none
        # while the whole gateway is stopping.
        if self._retiring == 0 and not self._closing:
            self._reclaim()

    async def _retire_one(self, version: Version, info: PluginInfo, *, unloaded: bool) -> None:
        timeout = self.gateway.config.plugins.drain_timeout_s
        started = time.perf_counter()
        drained = await version.mounted.drained(timeout)
        if not drained:
            logger.warning(
                "plugin %s: generation %d still had %d request(s) in flight after %ss",
                info.name,
                version.mounted.generation,
                version.mounted.inflight,
                timeout,
            )
        await version.lifespan.shutdown(timeout)
        version.namespace.release(clear=drained)
        generation = version.mounted.generation
        logger.info(
            "plugin %s: generation %d shut down and released in %.0f ms",
            info.name,
            generation,
            (time.perf_counter() - started) * 1000,
        )
        if unloaded:
            self.gateway.notify("gateway_plugin_unloaded", info)

    def _reclaim(self) -> None:
        """Give the memory of released versions back to the OS.

        Released modules are emptied (:meth:`Namespace.release`), so reference counting
        frees most of a version at once; glibc then keeps the freed heap pages unless asked
        to trim. Measured (bench/reload.py, bench/memory_probe.py): without this, resident
        memory grew by tens of MiB over 500 reloads. A full ``gc.collect()`` did the same but
        held the event loop 34-188 ms per reload; this takes well under a millisecond.
        """
        if self._malloc_trim is not None:
            self._malloc_trim(0)

    def _in_background(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _find_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


def _load_guarded(source: PluginSource) -> LoadedApp:
    """:func:`load_app`, with anything a plugin throws turned into a :class:`PluginError`.

    It runs in a worker thread: a ``SystemExit`` escaping from there would reach the event
    loop, so it is caught here too.
    """
    try:
        return load_app(source)
    except GatewayError:
        raise
    except (Exception, SystemExit) as exc:
        logger.error("plugin %s: unexpected error while loading", source.name, exc_info=True)
        raise PluginError(
            f"{type(exc).__name__}: {exc}", plugin=source.name, kind=type(exc).__name__
        ) from None
