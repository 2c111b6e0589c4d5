"""One worker process, seen from the gateway: start it, know when it is ready, when it ends,
how much memory it holds, and stop it.

The process gets one end of a ``socketpair`` (inherited as a file descriptor) and runs in
its own session, so a Ctrl-C or a signal sent to the gateway's process group is the
gateway's to handle: the gateway stops its workers itself. Its exit is noticed through a
``pidfd`` (Linux 5.3+) on the event loop, or a waiting thread where there is none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import LoadTimeout, PluginError, WorkerExited, plugin_error
from .channel import LoadFailed, WorkerChannel
from .spec import WorkerSpec, inherited_environment

logger = logging.getLogger(__name__)

_PAGE = os.sysconf("SC_PAGE_SIZE")
#: how long a worker has to exit after it was asked to (beyond the drain), before SIGKILL
EXIT_GRACE_S = 15.0


def rss_of(pid: int) -> int:
    """Resident memory of ``pid`` in bytes (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "ended"
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


class WorkerProcess:
    """A worker process and its channel."""

    def __init__(
        self,
        spec: WorkerSpec,
        python: str,
        slot: int,
        on_lost: Callable[[WorkerProcess], None],
        on_stall: Callable[[], None] | None = None,
    ) -> None:
        self.spec = spec
        self.python = python
        self.slot = slot
        self.channel = WorkerChannel(spec.name, lambda _: on_lost(self), on_stall)
        self.proc: subprocess.Popen[bytes] | None = None
        self.exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.ready_at: float | None = None
        self.framework: str | None = None
        #: the plugin's OpenAPI document as JSON and its routes, as the process reported
        #: them when ready
        self.openapi: str | None = None
        self.routes: list[str] = []
        #: requests routed here (for ``max_requests``)
        self.requests = 0
        #: set when the gateway retires this process on purpose (recycle, stop)
        self.retiring = False
        #: why the gateway killed it, if it did (memory limit)
        self.kill_reason: str | None = None

    def __repr__(self) -> str:
        return f"WorkerProcess({self.spec.name!r}, pid={self.pid}, slot={self.slot})"

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else 0

    @property
    def alive(self) -> bool:
        return self.proc is not None and not self.exited.done()

    def rss(self) -> int:
        return rss_of(self.pid) if self.alive else 0

    async def start(self, timeout: float) -> None:
        """Spawn the process and wait until it is ready; raise :class:`PluginError` if it
        fails to load, ends or takes longer than ``timeout`` (it is killed then)."""
        try:
            info = await asyncio.wait_for(self._spawn_and_wait(), timeout)
        except LoadFailed as exc:
            await self.kill()
            raise _plugin_error(self.spec, exc.details) from None
        except TimeoutError:
            await self.kill()
            raise LoadTimeout(
                f"the worker process did not become ready within {timeout:g}s",
                plugin=self.spec.name,
            ) from None
        except BaseException as exc:
            await self.kill()
            if isinstance(exc, asyncio.CancelledError | PluginError):
                raise
            code = await self.exited
            raise WorkerExited(
                f"the worker process {describe_exit(code)} before it was ready "
                "(its output is in the gateway's log)",
                plugin=self.spec.name,
            ) from None
        self.channel.pid = int(info.get("pid", self.pid))
        framework = info.get("framework")
        self.framework = str(framework) if framework else None
        document = info.get("openapi")
        self.openapi = document if isinstance(document, str) else None
        routes = info.get("routes")
        self.routes = [str(r) for r in routes] if isinstance(routes, list) else []
        self.ready_at = time.monotonic()

    async def _spawn_and_wait(self) -> dict[str, Any]:
        await self._spawn()
        return await asyncio.shield(self.channel.ready)

    async def _spawn(self) -> None:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = worker_environment(self.spec, os.environ)
        argv = [self.python, "-m", "gateway.isolation.worker", "--fd", str(theirs.fileno())]
        argv += ["--parent", str(os.getpid()), "--spec", self.spec.to_json()]
        workdir = self.spec.workdir
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            # Popen on the loop's thread: the worker's PR_SET_PDEATHSIG follows this thread.
            self.proc = subprocess.Popen(
                argv,
                pass_fds=(theirs.fileno(),),
                env=env,
                cwd=workdir,
                start_new_session=True,
            )
        except OSError as exc:
            ours.close()
            raise WorkerExited(
                f"cannot start the worker process with {self.python!r}: {exc}",
                plugin=self.spec.name,
            ) from None
        finally:
            theirs.close()
        self._watch_exit(loop)
        await loop.create_unix_connection(lambda: self.channel, sock=ours)

    def _watch_exit(self, loop: asyncio.AbstractEventLoop) -> None:
        proc = self.proc
        assert proc is not None
        try:
            pidfd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):
            loop.run_in_executor(None, proc.wait).add_done_callback(
                lambda f: self._exited(proc.returncode)
            )
            return

        def readable() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            self._exited(proc.wait())

        loop.add_reader(pidfd, readable)

    def _exited(self, code: int | None) -> None:
        if not self.exited.done():
            self.exited.set_result(code if code is not None else -1)

    def signal(self, sig: int) -> None:
        if self.alive:
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)

    async def kill(self) -> None:
        """SIGKILL, and wait until it is reaped."""
        if self.proc is None:
            return
        self.signal(signal.SIGKILL)
        await asyncio.shield(self.exited)

    async def stop(self, drain_timeout: float) -> None:
        """Let in-flight requests finish (up to ``drain_timeout``), then have the worker run
        its lifespan shutdown and exit; SIGKILL if it does not exit in time."""
        self.retiring = True
        if not self.alive:
            return
        started = time.monotonic()
        await self.channel.drained(drain_timeout)
        left = max(0.0, drain_timeout - (time.monotonic() - started))
        self.channel.shutdown(left)
        try:
            await asyncio.wait_for(asyncio.shield(self.exited), left + EXIT_GRACE_S)
        except TimeoutError:
            logger.warning(
                "plugin %s: process %d did not exit; killing it", self.spec.name, self.pid
            )
            await self.kill()


def worker_environment(spec: WorkerSpec, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of ``spec``'s worker: what it inherits of the gateway's
    (:func:`~.spec.inherited_environment`: a Django project in it uses its own
    ``settings.py`` unless the plugin's ``env:`` names another; no admin token), plus the
    spec's secrets, then the plugin's ``env:``. The worker is told the rest by its spec."""
    env = inherited_environment(environ)
    env.update(spec.secret_env())
    env.update(spec.env)
    return env


def _plugin_error(spec: WorkerSpec, details: dict[str, Any]) -> PluginError:
    """The error a worker reported while loading, as the same kind of error here."""
    return plugin_error(
        str(details.get("kind", "PluginError")),
        str(details.get("message", "loading failed")),
        plugin=spec.name,
        file=details.get("file") or None,
        hint=details.get("hint"),
    )
