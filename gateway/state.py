"""The registry's record of each plugin: its state and the version that serves."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

from .errors import PluginError, PrefixConflict
from .isolation import RESTARTING as PROCESS_RESTARTING
from .isolation import IsolatedPlugin
from .lifespan import Lifespan
from .loader import LoadedApp
from .observability.openapi import describe
from .plugin import (
    ACTIVE,
    FAILED,
    ISOLATION_NONE,
    ISOLATION_PROCESS,
    RESTARTING,
    PluginInfo,
)
from .routing import MountedApp


@dataclass
class Version:
    """A version of a plugin loaded in the gateway's process: what serves, and what to
    release once it is replaced."""

    mounted: MountedApp
    loaded: LoadedApp
    lifespan: Lifespan
    prefix: str
    isolation = ISOLATION_NONE

    @property
    def generation(self) -> int:
        return self.mounted.generation

    @property
    def framework(self) -> str:
        return self.loaded.framework

    def openapi(self) -> dict[str, Any] | None:
        """The OpenAPI document this version's app gives (``None``: it describes nothing)."""
        return describe(self.loaded.app, self.loaded.asgi_app)

    def leftover_threads(self) -> list[threading.Thread]:
        """Threads still running this version's code (its own, or a stuck request)."""
        return self.loaded.source.namespace.running_threads()

    async def shutdown(self, timeout: float) -> None:
        """Run the app's lifespan shutdown (errors are logged by :class:`Lifespan`)."""
        await self.lifespan.shutdown(timeout)

    def release(self, *, clear: bool) -> None:
        """Let the kinds take back what they registered, then drop the version's modules.

        ``clear`` empties the modules too: only for a version no request or thread runs in.
        """
        self.loaded.source.release()
        self.loaded.source.namespace.release(clear=clear)


@dataclass
class IsolatedVersion:
    """A version of a plugin served by worker processes of its own (``isolation: process``)."""

    mounted: MountedApp
    plugin: IsolatedPlugin
    prefix: str
    framework: str
    isolation = ISOLATION_PROCESS

    @property
    def generation(self) -> int:
        return self.mounted.generation

    def openapi(self) -> dict[str, Any] | None:
        """The OpenAPI document its processes reported when they became ready."""
        return self.plugin.openapi()

    def leftover_threads(self) -> list[threading.Thread]:
        return []  # its code runs in its processes, which stop() ends

    async def shutdown(self, timeout: float) -> None:
        """Drain the processes' in-flight requests and stop them; none is left behind."""
        await self.plugin.stop(timeout)

    def release(self, *, clear: bool) -> None:
        pass  # nothing of it lives in the gateway's process


AnyVersion = Version | IsolatedVersion


class PluginState:
    """Everything the registry knows of one plugin folder."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.framework: str | None = None
        self.prefix: str | None = None
        self.status = FAILED
        self.generation = 0
        self.loaded_at: str | None = None
        #: the latest failed attempt, kept while an older version still serves
        self.last_error: PluginError | None = None
        self.current: AnyVersion | None = None
        #: where its latest load ran: "none" (in the gateway's process) or "process"
        self.isolation = ISOLATION_NONE
        #: whether a load of it has finished yet (a plugin whose first load is still running
        #: is not shown: it is neither serving nor failed)
        self.attempted = False
        self.lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"PluginState({self.name!r}, status={self.status!r}, gen={self.generation})"

    def waits_for(self, prefix: str) -> bool:
        """Whether this plugin failed only because ``prefix`` was taken, and nothing serves."""
        error = self.last_error
        return self.current is None and isinstance(error, PrefixConflict) and error.prefix == prefix

    def info(self) -> PluginInfo:
        error = self.last_error
        current = self.current
        status = self.status
        processes: tuple[list[int] | None, int | None, int | None] = (None, None, None)
        if isinstance(current, IsolatedVersion):
            plugin = current.plugin
            processes = (plugin.pids, plugin.restarts, plugin.rss_bytes)
            if status == ACTIVE and plugin.status == PROCESS_RESTARTING:
                status = RESTARTING
        isolation = current.isolation if current is not None else self.isolation
        return PluginInfo(
            self.name,
            self.framework,
            self.prefix,
            status,
            self.generation,
            self.loaded_at,
            {"type": error.kind, "message": str(error)} if error is not None else None,
            isolation,
            *processes,
        )
