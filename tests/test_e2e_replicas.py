"""Replicas watching one shared plugins folder by polling (``--poll``, as on NFS or EFS)
converge on every change within 2 s: added, changed, removed."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
from conftest import GatewayProcess, wait_for

APP = 'def app(environ, start_response):\n    start_response("200 OK", [])\n    return [b"{}"]\n'
#: contract section 17: replicas converge on every change within this long
CONVERGE_S = 2.0


def answers(gateways: list[GatewayProcess], expected: str | int) -> bool:
    """Each gateway answers ``/shared/`` with ``expected`` (a body, or a status code)."""
    for gw in gateways:
        response = httpx.get(gw.base_url + "/shared/", timeout=5)
        got: str | int = response.text if isinstance(expected, str) else response.status_code
        if got != expected:
            return False
    return True


def converge_time(gateways: list[GatewayProcess], expected: str | int) -> float:
    started = time.monotonic()
    wait_for(lambda: answers(gateways, expected), timeout=15, interval=0.02)
    return time.monotonic() - started


def test_two_polling_gateways_converge_on_each_change(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    gateways = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        gateways.append(GatewayProcess(tmp_path / name, plugins, ["--poll"], {}))
    try:
        for gw in gateways:
            gw.wait_ready()
            wait_for(lambda gw=gw: "(polling)" in gw.log())
        assert answers(gateways, 404)

        staging = plugins / ".shared.tmp"
        staging.mkdir()
        (staging / "app.py").write_text(APP.format("v1"))
        staging.rename(plugins / "shared")
        added = converge_time(gateways, "v1")

        (plugins / "shared" / "app.py").write_text(APP.format("v2"))
        changed = converge_time(gateways, "v2")

        shutil.rmtree(plugins / "shared")
        removed = converge_time(gateways, 404)

        times = {"added": added, "changed": changed, "removed": removed}
        print(f"polling replicas converged in {times}")
        assert max(times.values()) < CONVERGE_S, times
    finally:
        for gw in gateways:
            assert gw.stop() == 0, gw.log()
