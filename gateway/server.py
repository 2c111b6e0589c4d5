"""Serving a :class:`Gateway` with uvicorn, in one process or ``--workers N`` processes."""

from __future__ import annotations

import logging
import math
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import uvicorn

from .app import Gateway
from .config import Config, config_from_json, config_to_json
from .containment import DoorProtocol, ForwardingSupervisor, exit_past_leftover_threads
from .observability.logs import configure_logging, logging_config
from .observability.metrics import multiprocess_dir, worker_exited

logger = logging.getLogger(__name__)

#: how the parent hands the resolved configuration (token included) to worker processes
CONFIG_ENV = "GATEWAY__RESOLVED_CONFIG"
CWD_ENV = "GATEWAY__CWD"
#: how long a finished worker waits for its WSGI threads before exiting without them
EXIT_GRACE_S = 2.0


def worker_app() -> Gateway:
    """The app factory each worker process calls (``--workers N``)."""
    config = config_from_json(os.environ[CONFIG_ENV])
    # uvicorn applied logging_config() already; this adds what a dict config cannot say.
    configure_logging(config.server.log_level, config.server.log_format)
    # SIGHUP reloads the plugins once the gateway serves; before that it must not end the
    # worker (its default action), as the supervisor passes SIGHUP on to every worker.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    threading.Thread(target=_exit_when_stuck, name="gateway-exit-watchdog", daemon=True).start()
    return Gateway(config, cwd=Path(os.environ[CWD_ENV]))


def _uvicorn_config(config: Config, app: Gateway | str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        host=config.server.host,
        port=config.server.port,
        workers=config.server.workers,
        lifespan="on",
        http=DoorProtocol,  # header limits on the raw bytes (gateway.containment.protocol)
        # The gateway writes the access log itself, with plugin, duration and request id
        # (gateway.observability.access); server.access_log switches that one.
        access_log=False,
        # SIGTERM: stop accepting, give in-flight requests this long to finish.
        timeout_graceful_shutdown=max(1, math.ceil(config.plugins.drain_timeout_s)),
        # Also what a spawned worker configures before its first line.
        log_config=logging_config(config.server.log_level, config.server.log_format),
        log_level=config.server.log_level,
    )


def _busy_wsgi_threads() -> int:
    return sum(t.name.startswith("gateway-wsgi") and t.is_alive() for t in threading.enumerate())


def _hard_exit(code: int) -> None:
    logger.warning("exiting with %d WSGI thread(s) still busy in plugins", _busy_wsgi_threads())
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _exit_when_stuck() -> None:
    """In a worker process: once the main thread is done, do not wait on stuck WSGI threads.

    ``ThreadPoolExecutor`` threads are joined at interpreter exit, so one WSGI request that
    never returns would keep a stopped worker alive forever.
    """
    threading.main_thread().join()
    time.sleep(EXIT_GRACE_S)
    if _busy_wsgi_threads():
        _hard_exit(0)


def _stopped_by_signal(signum: int, frame: object) -> None:
    logger.info("stopped by %s", signal.Signals(signum).name)


def serve(config: Config, *, cwd: Path) -> None:
    """Serve until SIGINT/SIGTERM; raise ``SystemExit(1)`` if the server could not start."""
    # uvicorn shuts down gracefully on SIGTERM/SIGINT and then re-raises the signal to the
    # handler that was installed before it ran; the default ones would end the process with
    # 143 (or raise KeyboardInterrupt, 130), but a gateway stopped by a signal after draining
    # has succeeded: exit 0.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _stopped_by_signal)
    if config.server.workers == 1:
        gateway = Gateway(config, cwd=cwd)
        server = uvicorn.Server(_uvicorn_config(config, gateway))
        server.run()
        # Stuck WSGI threads, a hung import, a plugin's non-daemon thread: none keeps it alive.
        exit_past_leftover_threads(0 if server.started else 1, gateway.containment.owners)
        if not server.started:
            raise SystemExit(1)
        return
    # Every worker builds its own Gateway (and watches and reloads on its own); they share
    # the listening socket and the token.
    os.environ[CONFIG_ENV] = config_to_json(config)
    os.environ[CWD_ENV] = str(cwd)
    uv_config = _uvicorn_config(config, "gateway.server:worker_app")
    with multiprocess_dir() as metrics_dir:
        _Workers(uv_config, [uv_config.bind_socket()], metrics_dir).run()


class _Workers(ForwardingSupervisor):
    """uvicorn's worker supervisor (SIGHUP passed on to the workers, see containment),
    telling the metrics when a worker is gone (replaced after dying, or by a restart), so
    its live gauges leave the sums."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket], metrics: Path):
        super().__init__(config, sockets)
        self.metrics_dir = metrics

    def keep_subprocess_alive(self) -> None:
        before = self._pids()
        super().keep_subprocess_alive()
        self._forget(before)

    def restart_all(self) -> None:
        before = self._pids()
        super().restart_all()
        self._forget(before)

    def _pids(self) -> set[int]:
        return {p.pid for p in self.processes if p.pid is not None}

    def _forget(self, before: set[int]) -> None:
        for pid in before - self._pids():
            worker_exited(pid, self.metrics_dir)
