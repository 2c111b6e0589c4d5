"""A blocked event loop is named (contract 13): the plugin, its generation and where."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

import httpx
from conftest import FIXTURES, GatewayProcess, wait_for

#: the line of held-asgi's `block` view that blocks the loop
BLOCKING_LINE = next(
    n
    for n, line in enumerate((FIXTURES / "held-asgi" / "app.py").read_text().splitlines(), 1)
    if "time.sleep(" in line and "blocks the whole event loop" in line
)


def test_a_view_blocking_the_event_loop_is_named_with_its_file_and_line(
    start_gateway: Callable[..., GatewayProcess],
) -> None:
    gw = start_gateway("held-asgi", env={"GATEWAY_SERVER_LOOP_STALL_MS": "300"})
    health_took: list[float] = []

    def health_while_blocked() -> None:
        # Sent once the view is blocking (the gateway read it but cannot answer yet).
        wait_for(lambda: "blocking the event loop" in gw.log(), timeout=10)
        started = time.monotonic()
        httpx.get(f"{gw.base_url}/_gateway/health", timeout=10)
        health_took.append(time.monotonic() - started)

    probe = threading.Thread(target=health_while_blocked)
    probe.start()
    assert gw.client.get("/held-asgi/block?s=1.5").text == "blocked"
    probe.join()
    # Nothing can preempt the view: the health check waits too (the same loop)...
    assert health_took and health_took[0] > 0.3
    # ...but the log says who, which version and where.
    line = next(line for line in gw.log().splitlines() if "blocking the event loop" in line)
    assert "plugin held-asgi (generation 1)" in line
    assert re.search(rf"held-asgi/app\.py:{BLOCKING_LINE} in block", line), line
    wait_for(lambda: "held the event loop for about" in gw.log(), timeout=5)
    held = re.search(r"held the event loop for about (\d+) ms", gw.log())
    assert held is not None and 1000 <= int(held.group(1)) <= 3000, gw.log()
    # A healthy plugin is never reported.
    for _ in range(20):
        assert gw.client.get("/held-asgi/").text == "ok"
    assert gw.log().count("blocking the event loop") == 1
    # and the stall is counted against the plugin in the metrics
    metrics = gw.admin.get("/_gateway/metrics").text
    assert 'gateway_loop_stalls_total{plugin="held-asgi"} 1.0' in metrics, metrics
