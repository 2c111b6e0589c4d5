"""Watching the plugins folder: file events become per-plugin reloads.

Events are mapped to the plugin folder they happened in; each plugin has its own settle
timer, restarted by every event, so a plugin is (re)loaded once its folder has been quiet for
``settle_ms`` — a folder copied file by file is loaded once, complete — and one plugin's
events never reload another. What to do (mount, reload, unmount, disable) is decided by the
registry's single load path, which looks at the folder as it is when the timer fires.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import watchfiles

from .manifest import is_candidate

logger = logging.getLogger(__name__)

#: how often the polling watcher (``--poll``) looks at the folder
POLL_DELAY_MS = 100
#: when, after a reload, the polling watcher looks again for an edit it could not see
RECHECK_S = 1.1


class PluginFolderFilter(watchfiles.DefaultFilter):
    """watchfiles' default filter (``__pycache__``, ``.pyc``, editor swap and backup files),
    plus anything hidden below the plugins folder — dotfiles, dot folders, ``.name.tmp``
    staging folders, ``_name`` folders — and the temporaries of vim (``4913``) and emacs
    (``#name#``)."""

    ignore_entity_patterns = (
        *watchfiles.DefaultFilter.ignore_entity_patterns,
        r"^4913$",
        r"^#.*#$",
    )

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = str(root)

    def __call__(self, change: watchfiles.Change, path: str) -> bool:
        if not super().__call__(change, path):
            return False
        parts = os.path.relpath(path, self.root).split(os.sep)
        if parts[0] in (os.curdir, os.pardir):
            return False
        return is_candidate(parts[0]) and not any(p.startswith(".") for p in parts[1:])


class PluginWatcher:
    """Watches ``root`` and calls ``on_change(name)`` once a plugin folder has settled."""

    def __init__(
        self,
        root: Path,
        on_change: Callable[[str], Coroutine[Any, Any, object]],
        *,
        settle_ms: int,
        poll: bool,
    ) -> None:
        self.root = root
        self.on_change = on_change
        self.settle_s = settle_ms / 1000
        self.poll = poll
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._pending: set[str] = set()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        mode = "polling" if self.poll else "native"
        return f"PluginWatcher({str(self.root)!r}, {mode}, settle={self.settle_s * 1000:g}ms)"

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="plugin-watcher")

    async def stop(self) -> None:
        self._stop.set()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        tasks = [t for t in (self._task, *self._running.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def plugin_of(self, path: str) -> str | None:
        """The plugin folder name an event path belongs to, or None (e.g. a file at the root)."""
        try:
            relative = Path(path).relative_to(self.root)
        except ValueError:
            return None
        if not relative.parts or not is_candidate(relative.parts[0]):
            return None
        # A plain file directly in the plugins folder is not a plugin; a removed folder is
        # gone from disk, so only a still-existing file is known not to be one.
        if len(relative.parts) == 1 and (self.root / relative).is_file():
            return None
        return relative.parts[0]

    def touch(self, name: str) -> None:
        """Something changed in plugin ``name``: (re)start its settle timer."""
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()
        loop = asyncio.get_running_loop()
        self._timers[name] = loop.call_later(self.settle_s, self._settled, name)

    def _settled(self, name: str) -> None:
        self._timers.pop(name, None)
        if name in self._running:
            # A load is under way: load again once it is done, with what is there then.
            self._pending.add(name)
            return
        task = asyncio.get_running_loop().create_task(self._fire(name))
        self._running[name] = task

    async def _fire(self, name: str) -> None:
        try:
            if self.poll:
                # watchfiles' poller compares whole-second mtimes, so an edit in the same
                # second as the one that triggered this reload goes unseen
                # (https://github.com/samuelcolvin/watchfiles/issues/319): look again once
                # that second is over, against what the folder was as this load read it.
                before = self.fingerprint(name)
                asyncio.get_running_loop().call_later(RECHECK_S, self._recheck, name, before)
            await self.on_change(name)
        except Exception:
            logger.exception("plugin %s: reload after a change failed unexpectedly", name)
        finally:
            self._running.pop(name, None)
            if name in self._pending and not self._stop.is_set():
                self._pending.discard(name)
                self.touch(name)

    def fingerprint(self, name: str) -> frozenset[tuple[str, int, int]]:
        """Each watched file of a plugin folder, with its size and mtime in nanoseconds."""
        folder = self.root / name
        keep = PluginFolderFilter(self.root)
        files = set()
        for parent, dirs, names in os.walk(folder):
            dirs[:] = [d for d in dirs if keep(watchfiles.Change.modified, os.path.join(parent, d))]
            for file in names:
                path = os.path.join(parent, file)
                if keep(watchfiles.Change.modified, path):
                    try:
                        stat = os.stat(path)
                    except OSError:
                        continue
                    files.add((path, stat.st_size, stat.st_mtime_ns))
        return frozenset(files)

    def _recheck(self, name: str, before: frozenset[tuple[str, int, int]]) -> None:
        if not self._stop.is_set() and self.fingerprint(name) != before:
            self.touch(name)

    async def _watch(self) -> None:
        logger.info("watching %s (%s)", self.root, "polling" if self.poll else "native events")
        try:
            async for changes in watchfiles.awatch(
                self.root,
                watch_filter=PluginFolderFilter(self.root),
                stop_event=self._stop,
                force_polling=self.poll,
                poll_delay_ms=POLL_DELAY_MS,
                step=20,
                debounce=400,
            ):
                for name in sorted({n for _, p in changes if (n := self.plugin_of(p))}):
                    self.touch(name)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("the plugins folder watcher stopped; changes are no longer seen")
