"""The route table: which mounted plugin version serves a path.

Prefixes are kept in one dict per depth (number of path segments), so a lookup costs one
dict probe per depth in use, however many plugins are mounted: no list scan of ``Mount``s, no
regex. Replacing a plugin's version is one dict assignment, which is atomic for the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .types import ASGIApp, Scope


class MountedApp:
    """One version of one plugin, as mounted: counts its in-flight requests for draining."""

    __slots__ = ("_idle", "app", "generation", "inflight", "name", "prefix", "state")

    def __init__(
        self, name: str, prefix: str, app: ASGIApp, generation: int, state: dict[str, Any]
    ) -> None:
        self.name = name
        self.prefix = "" if prefix == "/" else prefix
        self.app = app
        self.generation = generation
        self.state = state
        self.inflight = 0
        self._idle: asyncio.Event | None = None

    def __repr__(self) -> str:
        return (
            f"MountedApp({self.name!r}, prefix={self.prefix or '/'!r}, "
            f"generation={self.generation}, inflight={self.inflight})"
        )

    def enter(self, scope: Scope, root_path: str) -> None:
        """A request goes in: give it this version's view of the scope and count it.

        As Starlette's ``Mount``: the path stays whole, ``root_path`` grows by the prefix.
        ``app_root_path`` is the plugin's root too: Starlette builds ``url_for`` and
        ``base_url`` from it (a Starlette ``Mount`` keeps the outermost app's, which for a
        plugin is the plugin itself, not the gateway). The root app calls this and awaits
        :attr:`app` itself, which saves a coroutine frame per request.
        """
        scope["app_root_path"] = scope["root_path"] = root_path + self.prefix
        if self.state:
            scope["state"] = self.state.copy()
        self.inflight += 1

    def leave(self) -> None:
        """A request is done (or gone)."""
        self.inflight -= 1
        if self.inflight == 0 and self._idle is not None:
            self._idle.set()

    async def drained(self, timeout: float) -> bool:
        """Wait until no request is in flight (True) or ``timeout`` passes (False)."""
        if self.inflight == 0:
            return True
        self._idle = asyncio.Event()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return self.inflight == 0
        return True


class PrefixTable:
    """Longest-prefix lookup on path-segment boundaries."""

    def __init__(self) -> None:
        # _by_depth[d] maps a prefix with d segments ("/a/b" has 2; "/" has 0) to its app.
        self._by_depth: dict[int, dict[str, MountedApp]] = {}
        self._depths: tuple[int, ...] = ()  # depths in use, deepest first
        self._levels: tuple[tuple[int, dict[str, MountedApp]], ...] = ()  # the same, with tables

    def __repr__(self) -> str:
        return f"PrefixTable({len(self)} prefixes, depths={list(self._depths)})"

    def __len__(self) -> int:
        return sum(len(t) for t in self._by_depth.values())

    @staticmethod
    def depth(prefix: str) -> int:
        return 0 if prefix in ("", "/") else prefix.count("/")

    def get(self, prefix: str) -> MountedApp | None:
        """The app mounted at exactly ``prefix``."""
        key = "" if prefix == "/" else prefix
        return self._by_depth.get(self.depth(prefix), {}).get(key)

    def set(self, prefix: str, app: MountedApp) -> MountedApp | None:
        """Mount ``app`` at ``prefix`` in one step; return the app it replaced, if any."""
        depth = self.depth(prefix)
        table = self._by_depth.get(depth)
        if table is None:
            table = self._by_depth[depth] = {}
            self._reindex()
        key = "" if prefix == "/" else prefix
        old = table.get(key)
        table[key] = app
        return old

    def remove(self, prefix: str, app: MountedApp | None = None) -> MountedApp | None:
        """Unmount ``prefix`` (only if it still holds ``app``, when given)."""
        depth = self.depth(prefix)
        table = self._by_depth.get(depth)
        key = "" if prefix == "/" else prefix
        if table is None or key not in table or (app is not None and table[key] is not app):
            return None
        old = table.pop(key)
        if not table:
            del self._by_depth[depth]
            self._reindex()
        return old

    def _reindex(self) -> None:
        self._depths = tuple(sorted(self._by_depth, reverse=True))
        self._levels = tuple((depth, self._by_depth[depth]) for depth in self._depths)

    def lookup(self, path: str) -> MountedApp | None:
        """The app whose prefix is the longest one matching ``path`` on a segment boundary.

        This runs for every request: one-segment prefixes, by far the most common, take one
        ``find`` and one dict probe, with no function call.
        """
        for depth, table in self._levels:
            if depth == 1:
                end = path.find("/", 1)
                found = table.get(path if end < 0 else path[:end])
            elif depth == 0:
                return table[""]
            else:
                end = _segment_end(path, depth)
                found = table.get(path[:end]) if end > 0 else None
            if found is not None:
                return found
        return None


def _segment_end(path: str, depth: int) -> int:
    """Where the ``depth``-th segment of ``path`` ends, or -1 if it has fewer segments."""
    end = 0
    for i in range(depth):
        end = path.find("/", end + 1)
        if end < 0:
            return len(path) if i == depth - 1 else -1
    return end
