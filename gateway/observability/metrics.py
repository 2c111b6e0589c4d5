"""Prometheus metrics (CONTRACT section 15), through ``prometheus_client``.

The metrics, with their labels:

============================================  =============================================
``gateway_requests_total``                    ``plugin``, ``method``, ``code``
``gateway_request_duration_seconds``          ``plugin`` (histogram)
``gateway_requests_in_flight``                ``plugin``
``gateway_plugin_loads_total``                ``plugin``, ``result`` (``success``/``failure``)
``gateway_plugin_status``                     ``plugin``, ``status`` (1 for the current one)
``gateway_wsgi_threads_busy``                 ``plugin``
``gateway_loop_stalls_total``                 ``plugin``
``gateway_process_restarts_total``            ``plugin``
============================================  =============================================

A request no plugin matches counts under ``plugin=""``.

**Per request, no prometheus_client call.** Updating a ``prometheus_client`` child costs a
lock and, in multiprocess mode, a write to a memory-mapped file: about 3 µs per request for
the three request metrics in one process and 12 µs with ``--workers``, against a budget of
3% of a request (about 4 µs, CONTRACT section 11). So the request path only adds to plain
counters of a :class:`PluginStats` (event-loop thread only, no lock), and :meth:`Metrics.flush`
moves the increments into the ``prometheus_client`` metrics: before every scrape this process
answers, and every :data:`FLUSH_INTERVAL_S` on the event loop otherwise, so another worker's
requests show within that interval.

**Several workers.** With ``--workers N`` the parent sets ``PROMETHEUS_MULTIPROC_DIR`` to a
fresh temporary folder before the workers start (:func:`multiprocess_dir`), and every worker
writes its values there (prometheus_client's multiprocess mode); any worker answering
``/metrics`` reads them all. Gauges use the live modes (a dead worker's values leave the sum);
the parent calls ``mark_process_dead`` for a worker that exited and removes the folder at exit.

**For the other subsystems** (no per-request use): :meth:`Metrics.loop_stall`,
:meth:`Metrics.process_restart`, :meth:`Metrics.watch_wsgi_busy` (a callback read at each
flush) and :meth:`Metrics.set_status`. :class:`NoMetrics` has the same methods doing nothing,
for ``metrics.enabled: false``.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

from .. import compat

__all__ = [
    "FLUSH_INTERVAL_S",
    "MULTIPROC_ENV",
    "Metrics",
    "NoMetrics",
    "PluginStats",
    "multiprocess_dir",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
FLUSH_INTERVAL_S = 1.0
#: prometheus_client's default buckets, in seconds
BUCKETS = Histogram.DEFAULT_BUCKETS
_BOUNDS = tuple(b for b in BUCKETS if b != float("inf"))


class PluginStats:
    """One plugin's request counts since the last flush, kept by the request path.

    Only the event loop's thread touches it, so plain attributes need no lock.
    """

    __slots__ = ("buckets", "codes", "duration_sum", "in_flight", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.in_flight = 0
        #: (method, status) -> requests finished since the last flush
        self.codes: dict[tuple[str, int], int] = {}
        #: requests per histogram bucket (not cumulative; the last one is +Inf)
        self.buckets = [0] * (len(_BOUNDS) + 1)
        self.duration_sum = 0.0

    def __repr__(self) -> str:
        return f"PluginStats({self.name!r}, in_flight={self.in_flight})"

    def finished(self, method: str, status: int, seconds: float) -> None:
        """One request is done (the caller has already decremented :attr:`in_flight`)."""
        key = (method, status)
        codes = self.codes
        codes[key] = codes.get(key, 0) + 1
        self.buckets[bisect.bisect_left(_BOUNDS, seconds)] += 1
        self.duration_sum += seconds


class Metrics:
    """The metrics of one gateway process (one :class:`CollectorRegistry` per instance, so
    several gateways in one process keep theirs apart)."""

    enabled = True

    def __init__(self) -> None:
        # ``*_created`` series (a timestamp per label set) only double what is exposed.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "gateway_requests", "Requests answered", ["plugin", "method", "code"], registry=r
        )
        self.duration = Histogram(
            "gateway_request_duration_seconds",
            "Time from a request's arrival to the end of its response",
            ["plugin"],
            buckets=BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "gateway_requests_in_flight",
            "Requests being answered",
            ["plugin"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.loads = Counter(
            "gateway_plugin_loads", "Attempts to load a plugin", ["plugin", "result"], registry=r
        )
        self.status = Gauge(
            "gateway_plugin_status",
            "1 for the plugin's current status, 0 for the others",
            ["plugin", "status"],
            registry=r,
            multiprocess_mode="livemostrecent",
        )
        self.wsgi_busy = Gauge(
            "gateway_wsgi_threads_busy",
            "Threads of the shared WSGI pool a plugin holds",
            ["plugin"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.loop_stalls = Counter(
            "gateway_loop_stalls",
            "Times a plugin held the event loop too long",
            ["plugin"],
            registry=r,
        )
        self.restarts = Counter(
            "gateway_process_restarts",
            "Restarts of an isolated plugin's processes",
            ["plugin"],
            registry=r,
        )
        self._stats: dict[str, PluginStats] = {}
        self._busy: dict[str, Callable[[], int]] = {}
        #: the status each plugin's gauge says now (only it and the previous one are set)
        self._statuses: dict[str, str | None] = {}
        self._lock = threading.Lock()  # watch_wsgi_busy() may be called from any thread
        self._timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        mode = f"multiprocess in {self.multiprocess_dir}" if self.multiprocess_dir else "in-process"
        return f"Metrics({len(self._stats)} plugins, {mode})"

    # --- the request path ---------------------------------------------------------------

    def plugin(self, name: str) -> PluginStats:
        """The request counters of plugin ``name`` (``""``: requests no plugin matched)."""
        stats = self._stats.get(name)
        if stats is None:
            stats = self._stats[name] = PluginStats(name)
        return stats

    # --- for the other subsystems ---------------------------------------------------------

    def loop_stall(self, plugin: str) -> None:
        """``plugin`` held the event loop longer than ``server.loop_stall_ms`` (any thread)."""
        self.loop_stalls.labels(plugin).inc()

    def process_restart(self, plugin: str) -> None:
        """A process of isolated ``plugin`` was restarted (any thread)."""
        self.restarts.labels(plugin).inc()

    def watch_wsgi_busy(self, plugin: str, busy: Callable[[], int]) -> Callable[[], None]:
        """Report ``busy()`` (pool threads ``plugin`` holds now) at every flush; returns the
        function that stops it (which reports 0), for when the plugin's share is released."""
        with self._lock:
            self._busy[plugin] = busy

        def unwatch() -> None:
            with self._lock:
                if self._busy.get(plugin) is busy:
                    del self._busy[plugin]
            self.wsgi_busy.labels(plugin).set(0)

        return unwatch

    def set_status(self, plugin: str, status: str | None) -> None:
        """``gateway_plugin_status``: 1 for ``status``, 0 for the one before (all 0: ``None``).

        Statuses the plugin never had stay absent, as the contract allows: creating a label
        child costs tens of microseconds, and setting all five on every load added about
        0.3 ms to each of 1,000 plugins' start-up.
        """
        previous = self._statuses.get(plugin)
        if previous == status:
            return
        if previous is not None:
            self.status.labels(plugin, previous).set(0)
        if status is not None:
            self.status.labels(plugin, status).set(1)
        self._statuses[plugin] = status

    def plugin_loaded(self, plugin: str, status: str) -> None:
        self.loads.labels(plugin, "success").inc()
        self.set_status(plugin, status)

    def plugin_failed(self, plugin: str, status: str) -> None:
        self.loads.labels(plugin, "failure").inc()
        self.set_status(plugin, status)

    def plugin_unloaded(self, plugin: str) -> None:
        self.set_status(plugin, None)

    # --- flushing and exposition ----------------------------------------------------------

    def flush(self) -> None:
        """Move the request counts gathered since the last flush into prometheus_client.

        On the event loop's thread only, like the request path that fills :class:`PluginStats`.
        """
        for stats in list(self._stats.values()):
            self._flush_one(stats)
        with self._lock:
            watched = list(self._busy.items())
        for plugin, busy in watched:
            self.wsgi_busy.labels(plugin).set(busy())

    def _flush_one(self, stats: PluginStats) -> None:
        name = stats.name
        self.in_flight.labels(name).set(stats.in_flight)
        if not stats.codes:
            return
        # Swap the dict and bucket list out first: the event loop may add to new ones.
        codes, stats.codes = stats.codes, {}
        buckets, stats.buckets = stats.buckets, [0] * len(stats.buckets)
        total, stats.duration_sum = stats.duration_sum, 0.0
        for (method, status), count in codes.items():
            self.requests.labels(name, method, str(status)).inc(count)
        compat.prometheus_histogram_add(self.duration.labels(name), buckets, total)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Flush every :data:`FLUSH_INTERVAL_S` on ``loop`` until :meth:`stop`."""

        def tick() -> None:
            self.flush()
            self._timer = loop.call_later(FLUSH_INTERVAL_S, tick)

        self._timer = loop.call_later(FLUSH_INTERVAL_S, tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.flush()

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in Prometheus text format, and its content type (every worker's, in
        multiprocess mode). Reads files: call it off the event loop, after :meth:`flush`."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]
            registry, path=self.multiprocess_dir
        )
        return generate_latest(registry), CONTENT_TYPE_LATEST


class NoMetrics:
    """``metrics.enabled: false``: the same methods, doing nothing."""

    enabled = False

    def __repr__(self) -> str:
        return "NoMetrics()"

    def loop_stall(self, plugin: str) -> None:
        pass

    def process_restart(self, plugin: str) -> None:
        pass

    def watch_wsgi_busy(self, plugin: str, busy: Callable[[], int]) -> Callable[[], None]:
        return lambda: None

    def set_status(self, plugin: str, status: str | None) -> None:
        pass


@contextlib.contextmanager
def multiprocess_dir() -> Iterator[Path]:
    """In the parent of ``--workers``: a fresh folder for the workers' metric files, set as
    ``PROMETHEUS_MULTIPROC_DIR`` (inherited by the workers) and removed at the end."""
    folder = Path(tempfile.mkdtemp(prefix="gateway-metrics-"))
    previous = os.environ.get(MULTIPROC_ENV)
    os.environ[MULTIPROC_ENV] = str(folder)
    try:
        yield folder
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = previous
        shutil.rmtree(folder, ignore_errors=True)


def worker_exited(pid: int, folder: Path) -> None:
    """A worker process is gone: its live gauges (in flight, busy threads, status) leave
    the sums; its counters stay, as counters must."""
    prometheus_multiprocess.mark_process_dead(pid, str(folder))  # type: ignore[no-untyped-call]
