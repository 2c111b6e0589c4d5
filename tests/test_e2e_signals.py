"""Signals stay the gateway's (contract 13): SIGTERM and SIGINT stop it, exit 0, within
``drain_timeout_s`` + 5 s whatever its plugins did; SIGHUP reloads every plugin, dropping
nothing."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from conftest import GatewayProcess, wait_for

DRAIN_S = 2
#: what the contract allows past drain_timeout_s, less what it takes Python to start
STOP_MARGIN_S = 5


def stop_with(gw: GatewayProcess, sig: signal.Signals) -> tuple[int, float]:
    """Send ``sig``; the exit code and how long the process took to end (SIGKILL past
    ``DRAIN_S`` + 20 s, and fail)."""
    started = time.monotonic()
    gw.proc.send_signal(sig)
    try:
        code = gw.proc.wait(DRAIN_S + 20)
    except subprocess.TimeoutExpired:
        gw.proc.kill()
        gw.proc.wait()
        raise AssertionError(f"{sig.name} did not stop the gateway:\n{gw.log()}") from None
    return code, time.monotonic() - started


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_plugin_that_takes_the_stop_signals_cannot_keep_the_gateway_running(
    start_gateway: Callable[..., GatewayProcess], sig: signal.Signals
) -> None:
    gw = start_gateway(
        "signal-thief", "held-asgi", env={"GATEWAY_PLUGINS_DRAIN_TIMEOUT_S": str(DRAIN_S)}
    )
    assert gw.client.get("/signal-thief/").text == "mine now"
    code, took = stop_with(gw, sig)
    assert code == 0, gw.log()
    assert took < DRAIN_S + STOP_MARGIN_S, f"{took:.1f}s"
    assert "shut down and released" in gw.log()  # a graceful stop, plugins shut down
    # The operator learns which plugin tried.
    assert f"plugin signal-thief replaced the gateway's {sig.name} handler" in gw.log()


def test_a_plugin_thread_left_running_does_not_keep_the_gateway_alive(
    start_gateway: Callable[..., GatewayProcess],
) -> None:
    gw = start_gateway("thread-leaver", env={"GATEWAY_PLUGINS_DRAIN_TIMEOUT_S": str(DRAIN_S)})
    assert gw.client.get("/thread-leaver/").text == "left a thread"
    code, took = stop_with(gw, signal.SIGTERM)
    assert code == 0, gw.log()
    assert took < DRAIN_S + STOP_MARGIN_S, f"{took:.1f}s"
    # The operator is told which thread, of which plugin, was left behind, and where it is.
    line = next(line for line in gw.log().splitlines() if "still busy" in line)
    assert "'leaver-forever' of plugin thread-leaver" in line
    assert "thread-leaver/app.py:" in line


def test_a_plugin_whose_import_hangs_does_not_delay_the_stop(
    tmp_path: Path, start_gateway: Callable[..., GatewayProcess]
) -> None:
    gw = start_gateway(
        "hanging-import",
        "held-asgi",
        env={"GATEWAY_PLUGINS_DRAIN_TIMEOUT_S": str(DRAIN_S), "CONTAIN_DIR": str(tmp_path)},
        wait=False,
    )
    wait_for(lambda: (tmp_path / "hanging-import-started").exists(), timeout=30)
    code, took = stop_with(gw, signal.SIGTERM)
    assert code == 0, gw.log()
    assert took < DRAIN_S + STOP_MARGIN_S, f"{took:.1f}s"


def test_sighup_reloads_every_plugin_and_drops_no_request(
    start_gateway: Callable[..., GatewayProcess],
) -> None:
    gw = start_gateway("held-asgi", "held-flask")
    statuses: list[int | str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=gw.base_url, timeout=10) as client:
            for i in range(2000):  # bounded: also stops once the reload is seen
                if stop.is_set():
                    return
                path = "/held-asgi/" if i % 2 else "/held-flask/"
                try:
                    statuses.append(client.get(path).status_code)
                except httpx.HTTPError as exc:
                    statuses.append(repr(exc))

    loader = threading.Thread(target=load)
    loader.start()
    try:
        wait_for(lambda: len(statuses) > 20, what="traffic")
        gw.proc.send_signal(signal.SIGHUP)
        for name in ("held-asgi", "held-flask"):
            gw.wait_plugin(name, generation=2, status="active")
        count = len(statuses)
        wait_for(lambda: len(statuses) > count + 20, what="traffic after the reload")
    finally:
        stop.set()
        loader.join()
    gw.check_alive()
    assert set(statuses) == {200}, [s for s in statuses if s != 200][:5]
    assert "SIGHUP: reloading every plugin" in gw.log()
