"""The worker process: ``python -m gateway.isolation.worker --fd N --parent PID --spec JSON``.

Started by the gateway (:mod:`.process`), never by hand. It loads one plugin (:mod:`.host`),
runs its lifespan startup, reports ``READY`` (or ``FAILED`` with the plugin's error) on the
socket it inherited as ``--fd``, serves requests until the gateway sends ``SHUTDOWN``, then
drains, runs the lifespan shutdown and exits.

It never outlives the gateway: the socket's EOF ends it (a gateway that exits or is killed
closes its end), and so does ``PR_SET_PDEATHSIG`` for a worker whose event loop is stuck in
a plugin's code when that happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

from ..containment.owners import Owners
from ..containment.stalls import StallWatch
from ..errors import GatewayError
from ..lifespan import Lifespan, LifespanFailed
from ..observability import openapi
from ..observability.logs import configure_logging
from . import host
from .appserver import AppServer
from .spec import WorkerSpec

logger = logging.getLogger("gateway.isolation.worker")

PR_SET_PDEATHSIG = 1
#: how long the plugin's lifespan shutdown may take when the gateway stops the worker
SHUTDOWN_TIMEOUT_S = 10.0
#: the largest OpenAPI document a worker sends the gateway (it travels in one frame)
MAX_OPENAPI_BYTES = 16 << 20


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when the gateway dies (Linux ``prctl``).

    The signal is sent when the *thread* that started this process ends, so the gateway
    starts workers from its event loop's thread. A parent that died before this call is
    caught by comparing ``getppid()``.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the socket's EOF still ends us
            pass
    if os.getppid() != parent:
        os._exit(0)


def yield_to_the_gateway() -> None:
    """Run as ``SCHED_BATCH``: a worker woken by the gateway's write then does not preempt
    the gateway, which finishes its pass of the event loop (more requests to send, responses
    to write) before the worker takes the batch. On one core that halves the switches
    between the two and the cache refills they cost: about 5% less CPU per request for the
    FastAPI hello app (docs/ISOLATION.md). The worker keeps its fair share of the CPU; only
    wake-up preemption is given up, which an upstream of the gateway does not need."""
    if hasattr(os, "sched_setscheduler"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


def _error_details(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, GatewayError):
        return {
            "kind": getattr(exc, "kind", type(exc).__name__),
            "message": exc.message,
            "file": getattr(exc, "file", None),
            "hint": exc.hint,
        }
    return {"kind": type(exc).__name__, "message": f"{type(exc).__name__}: {exc}"}


def watch_the_loop(
    spec: WorkerSpec, loop: asyncio.AbstractEventLoop, server: AppServer
) -> Callable[[], None]:
    """Report the plugin's code holding this process's event loop longer than
    ``server.loop_stall_ms``, with ``file:line``, as the gateway does for an in-process plugin
    (:mod:`gateway.containment.stalls`); here only the plugin's own requests wait. Each stall
    is also sent to the gateway, which counts it in ``gateway_loop_stalls_total`` (the frame
    leaves once the loop runs again). Returns the function that stops watching."""

    def stalled(plugin: str) -> None:  # on the watchdog's thread
        with contextlib.suppress(RuntimeError):  # the loop is closed: the worker is ending
            loop.call_soon_threadsafe(server.send_stalled)

    watch = StallWatch(
        spec.loop_stall_ms / 1000,
        Owners(spec.folder.parent),  # the plugin's frames are known by their file
        stalled,
        who_waits="its own requests wait (isolation: process)",
    )
    handle: asyncio.TimerHandle | None = None

    def beat() -> None:
        nonlocal handle
        watch.beat()
        handle = loop.call_later(watch.tick, beat)

    watch.start()
    beat()

    def stop() -> None:
        if handle is not None:
            handle.cancel()
        watch.stop()

    return stop


def api_description(hosted: host.HostedApp, plugin: str) -> str | None:
    """The plugin's OpenAPI document as JSON, for the gateway's merged one (``None``: it
    describes nothing, its document failed, or it is larger than :data:`MAX_OPENAPI_BYTES`)."""
    try:
        document = openapi.describe(hosted.raw, hosted.app)
        if document is None:
            return None
        text = json.dumps(document)
    except Exception:
        logger.exception("plugin %s: its OpenAPI document failed", plugin)
        return None
    if len(text) > MAX_OPENAPI_BYTES:
        logger.warning(
            "plugin %s: its OpenAPI document is over %d bytes, left out of the merged one",
            plugin,
            MAX_OPENAPI_BYTES,
        )
        return None
    return text


async def serve(spec: WorkerSpec, fd: int) -> int:
    """Load, start, serve and stop; the return value is the exit code."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(family=socket.AF_UNIX, type=socket.SOCK_STREAM, fileno=fd)
    _, server = await loop.create_unix_connection(AppServer, sock=sock)

    def terminate() -> None:
        if not server.stop.done():
            server.stop.set_result(SHUTDOWN_TIMEOUT_S)

    loop.add_signal_handler(signal.SIGTERM, terminate)
    try:
        hosted = await loop.run_in_executor(None, host.load, spec)
    except BaseException as exc:
        server.send_failed(_error_details(exc))
        server.flush_now()
        return 1
    lifespan = Lifespan(hosted.app, spec.name)
    try:
        await lifespan.startup(spec.start_timeout_s)
    except (LifespanFailed, TimeoutError) as exc:
        reason = str(exc) or f"did not finish within {spec.start_timeout_s:g}s"
        server.send_failed(
            {"kind": "LifespanError", "message": f"lifespan startup failed: {reason}"}
        )
        server.flush_now()
        return 1
    server.serve(hosted.app, lifespan.state, spec.name)
    document = await loop.run_in_executor(None, api_description, hosted, spec.name)
    server.send_ready(
        {
            "pid": os.getpid(),
            "framework": hosted.framework,
            "openapi": document,
            "routes": list(hosted.routes),
        }
    )
    logger.info("plugin %s (%s) ready in process %d", spec.name, hosted.framework, os.getpid())
    stop_watching = watch_the_loop(spec, loop, server)
    drain = await server.stop
    stop_watching()
    await server.drain(drain or 0.0)
    await lifespan.shutdown(SHUTDOWN_TIMEOUT_S)
    hosted.executor.shutdown(wait=False, cancel_futures=True)
    server.flush_now()
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway.isolation.worker")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--spec", required=True)
    args = parser.parse_args(argv)
    die_with_parent(args.parent)
    yield_to_the_gateway()
    spec = WorkerSpec.from_json(args.spec)
    configure_logging(
        spec.log_level, "json" if spec.log_format == "json" else "text", plugin=spec.name
    )
    spec.workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(spec.workdir)
    try:
        import uvloop
    except ImportError:  # uvloop is optional, as for uvicorn
        code = asyncio.run(serve(spec, args.fd))
    else:
        code = uvloop.run(serve(spec, args.fd))
    sys.stdout.flush()
    sys.stderr.flush()
    # Not a normal interpreter exit: a plugin's non-daemon threads (a WSGI view that never
    # returns) must not keep the process alive once its lifespan has shut down.
    os._exit(code)


if __name__ == "__main__":
    main()
