"""The registry's record of each plugin: its state and the version that serves."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .errors import PluginError, PrefixConflict
from .lifespan import Lifespan
from .loader import LoadedApp
from .plugin import FAILED, PluginInfo
from .routing import MountedApp


@dataclass
class Version:
    """A loaded version of a plugin: what serves, and what to release once it is replaced."""

    mounted: MountedApp
    loaded: LoadedApp
    lifespan: Lifespan
    prefix: str

    @property
    def generation(self) -> int:
        return self.mounted.generation

    async def shutdown(self, timeout: float) -> None:
        """Run the app's lifespan shutdown (errors are logged by :class:`Lifespan`)."""
        await self.lifespan.shutdown(timeout)

    def release(self, *, clear: bool) -> None:
        """Let the kinds take back what they registered, then drop the version's modules.

        ``clear`` empties the modules too: only for a version no request or thread runs in.
        """
        self.loaded.source.release()
        self.loaded.source.namespace.release(clear=clear)


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
        self.current: Version | None = None
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
        return PluginInfo(
            self.name,
            self.framework,
            self.prefix,
            self.status,
            self.generation,
            self.loaded_at,
            {"type": error.kind, "message": str(error)} if error is not None else None,
        )
