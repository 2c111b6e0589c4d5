"""``--workers N`` (contract 13): a worker that dies is replaced, and a new worker answers 503,
never 404, for an existing plugin until its plugins are loaded."""

from __future__ import annotations

import collections
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
from conftest import GatewayProcess, wait_for


def workers(gw: GatewayProcess) -> set[int]:
    """The worker processes of the gateway (its children serving with uvicorn)."""
    children = Path(f"/proc/{gw.pid}/task/{gw.pid}/children").read_text().split()
    return {
        int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    }


def test_a_killed_worker_is_replaced_and_no_request_meets_a_404(
    tmp_path: Path, start_gateway: Callable[..., GatewayProcess]
) -> None:
    # The plugin takes a while to import, so a new worker serves for a while before it has
    # loaded it: long enough for requests to reach it then.
    gw = start_gateway(
        "gated-import",
        "held-asgi",
        args=["--workers", "2"],
        env={"READY_GATE_DIR": str(tmp_path)},
        wait=False,
    )
    (tmp_path / "open").touch()
    gw.wait_ready()
    wait_for(lambda: gw.log().count("gateway.app: ready:") == 2, timeout=60)
    first = wait_for(lambda: workers(gw) if len(workers(gw)) == 2 else None, timeout=30)
    (tmp_path / "open").unlink()  # the replacement's import of gated-import now waits
    seen: collections.Counter[int | str] = collections.Counter()
    stop = threading.Event()

    def load() -> None:
        for _ in range(20_000):  # bounded in count, and stopped once the test has seen enough
            if stop.is_set():
                return
            try:
                # A new connection each time: the kernel spreads them over the workers.
                response = httpx.get(
                    f"{gw.base_url}/gated-import/", headers={"Connection": "close"}, timeout=10
                )
                seen[response.status_code] += 1
            except httpx.TransportError:
                seen["connection error"] += 1  # a request the killed worker had in hand

    loader = threading.Thread(target=load)
    loader.start()
    try:
        wait_for(lambda: seen[200] > 50, what="traffic")
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        # uvicorn's supervisor notices and starts a new worker, which serves 503 while its
        # plugins load (the import is held)...
        replaced = wait_for(
            lambda: workers(gw) - first if len(workers(gw) - first) == 1 else None, timeout=30
        )
        wait_for(lambda: seen[503] or seen[404], timeout=30, what="an answer from the new worker")
        assert seen[404] == 0, seen
        # ...and 200 once they are.
        (tmp_path / "open").touch()
        wait_for(lambda: gw.log().count("gateway.app: ready:") == 3, timeout=60)
        count = seen[200]
        wait_for(lambda: seen[200] > count + 100, what="traffic after the restart")
    finally:
        stop.set()
        (tmp_path / "open").touch()
        loader.join()
    assert seen[404] == 0, seen
    assert set(seen) <= {200, 503, "connection error"}, seen
    assert workers(gw) == (first - {victim}) | replaced
    assert "died" in gw.log()


def test_sighup_reloads_the_plugins_in_every_worker_without_replacing_them(
    start_gateway: Callable[..., GatewayProcess],
) -> None:
    gw = start_gateway("held-asgi", args=["--workers", "2"])
    wait_for(lambda: gw.log().count("gateway.app: ready:") == 2, timeout=60)
    before = wait_for(lambda: workers(gw) if len(workers(gw)) == 2 else None, timeout=30)
    gw.proc.send_signal(signal.SIGHUP)
    wait_for(
        lambda: gw.log().count("plugin held-asgi: loaded generation 2") == 2,
        timeout=30,
        what="both workers reloaded",
    )
    assert workers(gw) == before  # the same processes: reloaded in place
    assert gw.client.get("/held-asgi/").text == "ok"
