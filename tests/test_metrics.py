"""gateway.observability.metrics: the API the other subsystems feed (loop stalls, process
restarts, busy WSGI threads), fed here by fake sources, and the batching of request counts,
both in one process and in prometheus_client's multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from gateway.observability.metrics import Metrics, NoMetrics, multiprocess_dir, worker_exited


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    metrics.flush()
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def get(metrics: Metrics, name: str, **labels: str) -> float:
    return samples(metrics).get((name, frozenset(labels.items())), 0.0)


def test_loop_stalls_and_process_restarts_count() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.loop_stall("slow")
    metrics.process_restart("isolated")
    assert get(metrics, "gateway_loop_stalls_total", plugin="slow") == 3
    assert get(metrics, "gateway_process_restarts_total", plugin="isolated") == 1


class FakeShare:
    """Stands in for the containment subsystem's per-plugin share of the WSGI pool."""

    def __init__(self) -> None:
        self.busy = 0


def test_busy_wsgi_threads_are_read_from_their_source_at_each_flush() -> None:
    metrics = Metrics()
    share = FakeShare()
    unwatch = metrics.watch_wsgi_busy("flask-a", lambda: share.busy)
    share.busy = 5
    assert get(metrics, "gateway_wsgi_threads_busy", plugin="flask-a") == 5
    share.busy = 2
    assert get(metrics, "gateway_wsgi_threads_busy", plugin="flask-a") == 2
    unwatch()
    share.busy = 9
    assert get(metrics, "gateway_wsgi_threads_busy", plugin="flask-a") == 0


def test_request_counts_are_batched_until_a_flush() -> None:
    metrics = Metrics()
    stats = metrics.plugin("shop")
    assert metrics.plugin("shop") is stats
    stats.in_flight += 1
    for seconds in (0.001, 0.02, 0.3, 20.0):
        stats.finished("GET", 200, seconds)
    stats.finished("POST", 503, 0.004)
    values = samples(metrics)

    def v(name: str, **labels: str) -> float:
        return values.get((name, frozenset(labels.items())), 0.0)

    assert v("gateway_requests_total", plugin="shop", method="GET", code="200") == 4
    assert v("gateway_requests_total", plugin="shop", method="POST", code="503") == 1
    assert v("gateway_request_duration_seconds_count", plugin="shop") == 5
    assert v("gateway_request_duration_seconds_bucket", plugin="shop", le="0.005") == 2
    assert v("gateway_request_duration_seconds_bucket", plugin="shop", le="0.025") == 3
    assert v("gateway_request_duration_seconds_bucket", plugin="shop", le="10.0") == 4
    assert v("gateway_request_duration_seconds_bucket", plugin="shop", le="+Inf") == 5
    assert abs(v("gateway_request_duration_seconds_sum", plugin="shop") - 20.325) < 1e-9
    assert v("gateway_requests_in_flight", plugin="shop") == 1
    # a second flush adds nothing twice
    assert get(metrics, "gateway_requests_total", plugin="shop", method="GET", code="200") == 4


def test_status_is_one_for_the_current_status_only() -> None:
    metrics = Metrics()
    metrics.plugin_failed("p", "failed")
    metrics.plugin_loaded("p", "active")
    assert get(metrics, "gateway_plugin_status", plugin="p", status="active") == 1
    assert get(metrics, "gateway_plugin_status", plugin="p", status="failed") == 0
    assert get(metrics, "gateway_plugin_loads_total", plugin="p", result="failure") == 1
    assert get(metrics, "gateway_plugin_loads_total", plugin="p", result="success") == 1
    metrics.plugin_unloaded("p")
    assert get(metrics, "gateway_plugin_status", plugin="p", status="active") == 0


def test_no_metrics_accepts_the_same_calls() -> None:
    off = NoMetrics()
    off.loop_stall("x")
    off.process_restart("x")
    off.watch_wsgi_busy("x", lambda: 1)()
    off.set_status("x", "active")


WORKER = """
import sys
from gateway.observability.metrics import Metrics
m = Metrics()
stats = m.plugin("shop")
for _ in range(int(sys.argv[1])):
    stats.finished("GET", 200, 0.01)
stats.in_flight = 1  # still "busy" when it exits
m.loop_stall("shop")
m.flush()
"""


def test_multiprocess_mode_sums_processes_and_forgets_dead_ones_gauges(tmp_path: Path) -> None:
    with multiprocess_dir() as folder:
        pids = []
        for count in (3, 4):
            done = subprocess.run(
                [sys.executable, "-c", textwrap.dedent(WORKER), str(count)],
                env=dict(os.environ),
                check=True,
                capture_output=True,
                text=True,
            )
            assert done.returncode == 0, done.stderr
            pids += [int(p.name.split("_")[-1][:-3]) for p in folder.glob("gauge_livesum_*.db")]
        code = """
from gateway.observability.metrics import Metrics
print(Metrics().exposition()[0].decode())
"""
        scrape = subprocess.run(
            [sys.executable, "-c", code], env=dict(os.environ), check=True, capture_output=True
        ).stdout.decode()
        found = {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(scrape)
            for s in family.samples
        }
        key = frozenset({"plugin": "shop", "method": "GET", "code": "200"}.items())
        assert found[("gateway_requests_total", key)] == 7
        assert found[("gateway_loop_stalls_total", frozenset({("plugin", "shop")}))] == 2
        assert found[("gateway_requests_in_flight", frozenset({("plugin", "shop")}))] == 2
        for pid in set(pids):
            worker_exited(pid, folder)
        assert not list(folder.glob("gauge_livesum_*.db"))
    assert not folder.exists()
