"""Driving one plugin app's ASGI lifespan, the way uvicorn's ``lifespan/on.py`` does.

The app runs in its own task that talks to us through a queue; startup and shutdown each wait
for the app's answer. An app that raises before asking for the first message does not speak
the lifespan protocol (uvicorn's ``auto`` mode): it is served without one. An app that
answers ``lifespan.startup.failed``, or raises after taking the startup message, fails its load.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sysconfig
from typing import Any

from .types import ASGIApp, Message

logger = logging.getLogger(__name__)


#: a frame line of a formatted traceback: ``  File "/path/x.py", line 8, in f``
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)', re.MULTILINE)
_LIBRARY_DIRS = tuple(
    {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
)


def summarise_failure(message: str) -> str:
    """One line for a ``lifespan.startup.failed`` message.

    Starlette sends the whole formatted traceback as the message; a plugin's failing startup
    is a user error, reported as the exception line and the innermost frame outside the
    standard library and installed packages (the plugin's own file and line).
    """
    if "Traceback (most recent call last)" not in message:
        return message.strip()
    lines = [line for line in message.strip().splitlines() if line.strip()]
    error = lines[-1].strip() if lines else "lifespan startup failed"
    where = [
        f"{m['file']}:{m['line']}"
        for m in _FRAME.finditer(message)
        if not m["file"].startswith(_LIBRARY_DIRS)
    ]
    return f"{error} (at {where[-1]})" if where else error


class LifespanFailed(Exception):
    """The app reported ``lifespan.startup.failed`` (or raised after starting to answer)."""


class Lifespan:
    """The lifespan of one app: ``await startup()`` before traffic, ``await shutdown()`` after."""

    def __init__(self, app: ASGIApp, name: str) -> None:
        self.app = app
        self.name = name
        self.state: dict[str, Any] = {}
        self.supported = True
        self._receive_queue: asyncio.Queue[Message] = asyncio.Queue()
        self._startup_done = asyncio.Event()
        self._shutdown_done = asyncio.Event()
        self._startup_failed: str | None = None
        self._shutdown_failed: str | None = None
        self._engaged = False
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"Lifespan({self.name!r}, supported={self.supported})"

    async def startup(self, timeout: float | None = None) -> None:
        """Run the app's startup; raise :class:`LifespanFailed` if it fails."""
        self._task = asyncio.create_task(self._main(), name=f"lifespan:{self.name}")
        await self._receive_queue.put({"type": "lifespan.startup"})
        try:
            await asyncio.wait_for(self._startup_done.wait(), timeout)
        except TimeoutError:
            # Stop the app's startup, or its task would run on with nothing left to await it.
            self._startup_failed = f"no answer to 'lifespan.startup' within {timeout}s"
            self._task.cancel()
            raise
        if self._startup_failed is not None:
            raise LifespanFailed(self._startup_failed)

    async def shutdown(self, timeout: float | None = None) -> None:
        """Run the app's shutdown; errors are logged, never raised (the version is gone)."""
        if self._task is None or not self.supported or self._startup_failed is not None:
            return
        await self._receive_queue.put({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(self._shutdown_done.wait(), timeout)
        except TimeoutError:
            logger.warning("plugin %s: lifespan shutdown timed out after %ss", self.name, timeout)
            self._task.cancel()
            return
        if self._shutdown_failed is not None:
            logger.error(
                "plugin %s: lifespan shutdown failed: %s", self.name, self._shutdown_failed
            )

    async def _main(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.app(scope, self._receive, self._send)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            if not self._engaged:
                self.supported = False
                logger.info("plugin %s: ASGI 'lifespan' not supported (%r)", self.name, exc)
            elif not self._startup_done.is_set():
                self._startup_failed = f"{type(exc).__name__}: {exc}"
            elif not self._shutdown_done.is_set():
                self._shutdown_failed = f"{type(exc).__name__}: {exc}"
        finally:
            self._startup_done.set()
            self._shutdown_done.set()

    async def _receive(self) -> Message:
        message = await self._receive_queue.get()
        # An app that took the startup message speaks the protocol: if it raises now, its
        # startup failed (only an app that raises before asking is "not supported").
        self._engaged = True
        return message

    async def _send(self, message: Message) -> None:
        self._engaged = True
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            self._startup_done.set()
        elif kind == "lifespan.startup.failed":
            self._startup_failed = summarise_failure(
                message.get("message") or "lifespan startup failed"
            )
            self._startup_done.set()
        elif kind == "lifespan.shutdown.complete":
            self._shutdown_done.set()
        elif kind == "lifespan.shutdown.failed":
            self._shutdown_failed = summarise_failure(
                message.get("message") or "lifespan shutdown failed"
            )
            self._shutdown_done.set()
