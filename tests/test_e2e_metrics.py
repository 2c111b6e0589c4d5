"""``GET /_gateway/metrics`` end to end: the values match the requests actually sent, per
plugin, method and status code, in one process and summed over ``--workers 2``; in-flight
requests show while held and go back to 0; load results and statuses follow the lifecycle;
``metrics.enabled: false`` removes them."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import FIXTURES, GatewayProcess, copy_plugin, launch_gateway, wait_for
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]


def scrape(gw: GatewayProcess) -> Samples:
    """Every sample of ``/_gateway/metrics``, keyed by name and label set (parsed with
    prometheus_client's own parser, so the text format is checked too)."""
    response = gw.admin.get("/_gateway/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    gateway = launch_gateway(
        tmp_path_factory.mktemp("metrics"), "obs-asgi", "obs-wsgi", "broken-raises"
    )
    yield gateway
    assert gateway.stop() == 0, gateway.log()


def test_metrics_need_the_token(gw: GatewayProcess) -> None:
    response = gw.client.get("/_gateway/metrics")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_request_counts_and_histogram_match_what_was_sent(gw: GatewayProcess) -> None:
    before = scrape(gw)
    sent = {("GET", "200"): 7, ("GET", "404"): 3, ("POST", "201"): 2, ("DELETE", "503"): 4}
    for (method, code), times in sent.items():
        for _ in range(times):
            response = gw.client.request(method, f"/obs-asgi/status/{code}")
            assert response.status_code == int(code)
    for _ in range(5):
        assert gw.client.get("/obs-wsgi/").status_code == 200
    for path in ("/nowhere", "/nowhere/else", "/obs-asgix"):
        assert gw.client.get(path).status_code == 404
    after = scrape(gw)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    for (method, code), times in sent.items():
        got = delta("gateway_requests_total", plugin="obs-asgi", method=method, code=code)
        assert got == times, (method, code)
    assert delta("gateway_requests_total", plugin="obs-wsgi", method="GET", code="200") == 5
    assert delta("gateway_requests_total", plugin="", method="GET", code="404") == 3
    # one histogram observation per request, every bucket cumulative up to +Inf
    count = sum(sent.values())
    assert delta("gateway_request_duration_seconds_count", plugin="obs-asgi") == count
    assert delta("gateway_request_duration_seconds_bucket", plugin="obs-asgi", le="+Inf") == count
    assert delta("gateway_request_duration_seconds_count", plugin="obs-wsgi") == 5
    assert delta("gateway_request_duration_seconds_count", plugin="") == 3
    buckets = [
        value(after, "gateway_request_duration_seconds_bucket", plugin="obs-asgi", le=str(b))
        for b in BUCKETS
    ]
    assert buckets == sorted(buckets)
    assert 0 < delta("gateway_request_duration_seconds_sum", plugin="obs-asgi") < count * 10
    assert value(after, "gateway_requests_in_flight", plugin="obs-asgi") == 0


def test_a_failing_request_counts_as_500(gw: GatewayProcess) -> None:
    before = scrape(gw)
    assert gw.client.get("/obs-asgi/boom").status_code == 500
    assert gw.client.get("/obs-asgi/raw-boom").status_code == 500
    after = scrape(gw)
    labels = {"plugin": "obs-asgi", "method": "GET", "code": "500"}
    assert (
        value(after, "gateway_requests_total", **labels)
        - value(before, "gateway_requests_total", **labels)
        == 2
    )


def test_in_flight_shows_held_requests_and_returns_to_zero(
    gw: GatewayProcess, tmp_path: Path
) -> None:
    marker = tmp_path / "release"
    url = f"{gw.base_url}/obs-asgi/hold"
    with httpx.Client(timeout=60) as client, concurrent.futures.ThreadPoolExecutor(3) as pool:
        held = [pool.submit(client.get, url, params={"marker": str(marker)}) for _ in range(3)]
        wait_for(
            lambda: value(scrape(gw), "gateway_requests_in_flight", plugin="obs-asgi") == 3,
            timeout=20,
            what="3 requests in flight",
        )
        marker.touch()
        assert [f.result().text for f in held] == ["released"] * 3
    assert value(scrape(gw), "gateway_requests_in_flight", plugin="obs-asgi") == 0


def test_loads_and_status_follow_the_lifecycle(gw: GatewayProcess) -> None:
    samples = scrape(gw)
    assert value(samples, "gateway_plugin_loads_total", plugin="obs-asgi", result="success") == 1
    assert value(samples, "gateway_plugin_status", plugin="obs-asgi", status="active") == 1
    assert value(samples, "gateway_plugin_status", plugin="obs-asgi", status="failed") == 0
    assert (
        value(samples, "gateway_plugin_loads_total", plugin="broken-raises", result="failure") == 1
    )
    assert value(samples, "gateway_plugin_status", plugin="broken-raises", status="failed") == 1
    assert value(samples, "gateway_plugin_status", plugin="broken-raises", status="active") == 0

    assert gw.admin.post("/_gateway/plugins/obs-wsgi/reload").json()["generation"] == 2
    samples = scrape(gw)
    assert value(samples, "gateway_plugin_loads_total", plugin="obs-wsgi", result="success") == 2
    assert value(samples, "gateway_plugin_status", plugin="obs-wsgi", status="active") == 1
    # the metrics the other subsystems feed are declared from the start
    text = gw.admin.get("/_gateway/metrics").text
    for name in (
        "gateway_wsgi_threads_busy",
        "gateway_loop_stalls_total",
        "gateway_process_restarts_total",
    ):
        assert f"# TYPE {name} " in text, name


def test_two_workers_sum_to_what_was_sent(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    copy_plugin(FIXTURES / "obs-asgi", plugins)
    temp = tmp_path / "tmp"  # where the parent makes the workers' metrics folder
    temp.mkdir()
    gw = GatewayProcess(tmp_path, plugins, ["--workers", "2"], {"TMPDIR": str(temp)})
    try:
        gw.wait_ready()
        assert len(list(temp.glob("gateway-metrics-*"))) == 1
        pids: set[int] = set()
        sent = 0
        # Each request on a new connection, which the kernel hands to either worker; go on
        # until both have answered (bounded).
        for _ in range(400):
            response = httpx.get(f"{gw.base_url}/obs-asgi/echo", headers={"Connection": "close"})
            if response.status_code == 503:  # that worker is still loading its plugins
                continue
            assert response.status_code == 200
            sent += 1
            pids.add(response.json()["pid"])
            if len(pids) == 2 and sent >= 40:
                break
        assert len(pids) == 2, f"only {pids} answered {sent} requests"

        def counted() -> bool:
            samples = scrape(gw)
            got = value(
                samples, "gateway_requests_total", plugin="obs-asgi", method="GET", code="200"
            )
            hist = value(samples, "gateway_request_duration_seconds_count", plugin="obs-asgi")
            in_flight = total(samples, "gateway_requests_in_flight", plugin="obs-asgi")
            return got == sent and hist == sent and in_flight == 0

        # every worker moves its counts to the shared files at least once a second
        wait_for(counted, timeout=20, what=f"{sent} requests counted over both workers")
        loads = value(scrape(gw), "gateway_plugin_loads_total", plugin="obs-asgi", result="success")
        assert loads == 2  # each worker loaded it
        assert value(scrape(gw), "gateway_plugin_status", plugin="obs-asgi", status="active") == 1
    finally:
        assert gw.stop() == 0, gw.log()
    assert list(temp.glob("gateway-metrics-*")) == []  # removed at exit


def test_metrics_disabled(start_gateway: Callable[..., GatewayProcess]) -> None:
    gw = start_gateway("obs-asgi", env={"GATEWAY_METRICS_ENABLED": "false"})
    assert gw.client.get("/obs-asgi/echo").status_code == 200
    response = gw.admin.get("/_gateway/metrics")
    assert response.status_code == 404
    assert "disabled" in response.json()["detail"]
    assert gw.admin.get("/_gateway/plugins").status_code == 200


def test_plugin_health_needs_no_token(gw: GatewayProcess) -> None:
    ok = gw.client.get("/_gateway/plugins/obs-asgi/health")
    assert ok.status_code == 200
    assert ok.json()["status"] == "active"
    failed = gw.client.get("/_gateway/plugins/broken-raises/health")
    assert failed.status_code == 503
    assert failed.json()["status"] == "failed"
    assert gw.client.get("/_gateway/plugins/no-such/health").status_code == 404
    assert gw.client.get("/_gateway/plugins/" + "x" * 300 + "/health").status_code == 404
    assert gw.client.get("/_gateway/plugins/Bad%20Name/health").status_code == 404
    # the token is still needed next to it
    assert gw.client.get("/_gateway/plugins/obs-asgi").status_code == 401
