"""Loads are independent and bounded (contract section 13), end to end: a hung import fails
with LoadTimeout and delays nothing else; hostile manifests and large sources never hold the
event loop; an edit is never served stale."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import FIXTURES, GatewayProcess, copy_plugin, wait_for

LOAD_TIMEOUT_S = 3.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


class Poller:
    """GETs ``path`` over and over in a thread; the worst latency tells how long the event
    loop was held. Bounded: at most ``limit`` requests."""

    def __init__(self, gw: GatewayProcess, path: str, limit: int = 20000) -> None:
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(gw.base_url, path, limit))

    def _run(self, base_url: str, path: str, limit: int) -> None:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            for _ in range(limit):
                if self._stop.is_set():
                    return
                started = time.perf_counter()
                response = client.get(path)
                self.latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    self.errors.append(f"{response.status_code} {response.text[:80]}")

    def __enter__(self) -> Poller:
        self._thread.start()
        wait_for(lambda: len(self.latencies) >= 20, what="the poller under way")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    @property
    def worst(self) -> float:
        return max(self.latencies)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("loading")
    plugins = workdir / "plugins"
    plugins.mkdir()
    for name in ("shop", "hang-import"):
        copy_plugin(FIXTURES / name, plugins)
    env = {
        "GATEWAY_PLUGINS_LOAD_TIMEOUT_S": str(LOAD_TIMEOUT_S),
        "GATEWAY_PLUGINS_SETTLE_MS": "100",
    }
    gateway = GatewayProcess(workdir, plugins, [], env)
    started = time.monotonic()
    gateway.wait_ready(timeout=LOAD_TIMEOUT_S + 30)
    gateway.first_scan_s = time.monotonic() - started  # type: ignore[attr-defined]
    yield gateway
    (workdir / "release-hang-import").touch()
    assert gateway.stop() == 0, gateway.log()


def stage(gw: GatewayProcess, name: str, files: dict[str, str | bytes]) -> None:
    staging = gw.plugins_dir / f".{name}.tmp"
    staging.mkdir()
    for relative, content in files.items():
        target = staging / relative
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    staging.rename(gw.plugins_dir / name)


HELLO = (FIXTURES / "shop" / "app.py").read_text()


def test_a_hung_import_fails_with_load_timeout_and_readiness_is_bounded(
    gw: GatewayProcess,
) -> None:
    first_scan_s: float = gw.first_scan_s  # type: ignore[attr-defined]
    assert first_scan_s < LOAD_TIMEOUT_S + 10, "readiness waited for the hung import"
    info = gw.plugin("hang-import")
    assert (info["status"], info["error"]["type"]) == ("failed", "LoadTimeout")
    assert "load_timeout_s" in info["error"]["message"]
    assert gw.client.get("/shop/").json() == {"plugin": "shop"}  # loaded beside it


def test_while_an_import_hangs_other_loads_and_the_admin_api_go_on(gw: GatewayProcess) -> None:
    result: dict[str, httpx.Response] = {}
    reload = threading.Thread(
        target=lambda: result.update(r=gw.admin.post("/_gateway/plugins/hang-import/reload"))
    )
    started = time.monotonic()
    reload.start()
    try:
        stage(gw, "newcomer", {"app.py": HELLO})
        wait_for(lambda: gw.client.get("/newcomer/").status_code == 200, timeout=LOAD_TIMEOUT_S)
        quick = time.monotonic()
        answer = gw.admin.post("/_gateway/plugins/shop/reload")
        assert answer.status_code == 200 and answer.json()["error"] is None
        assert time.monotonic() - quick < LOAD_TIMEOUT_S  # not queued behind the hung import
        assert gw.client.get("/_gateway/health").status_code == 200
    finally:
        reload.join(LOAD_TIMEOUT_S + 30)
    assert LOAD_TIMEOUT_S * 0.9 < time.monotonic() - started < LOAD_TIMEOUT_S + 20
    assert result["r"].json()["error"]["type"] == "LoadTimeout"


def test_a_reload_that_hangs_keeps_the_old_version_serving(gw: GatewayProcess) -> None:
    stage(gw, "stayer", {"app.py": HELLO})
    gw.wait_plugin("stayer", status="active", generation=1)
    shutil.copy(FIXTURES / "hang-import" / "app.py", gw.plugins_dir / "stayer" / "app.py")
    info = gw.wait_plugin("stayer", timeout=LOAD_TIMEOUT_S + 20, status="active", generation=1)
    info = wait_for(lambda: (i := gw.plugin("stayer"))["error"] and i, timeout=LOAD_TIMEOUT_S + 20)
    assert (info["status"], info["generation"]) == ("active", 1)
    assert info["error"]["type"] == "LoadTimeout"
    assert gw.client.get("/stayer/").json() == {"plugin": "shop"}
    # when the hung import ends after all, what it built is released, not mounted
    (gw.workdir / "release-stayer").touch()
    wait_for(lambda: "still running" not in gw.log() or True)
    assert gw.client.get("/stayer/").json() == {"plugin": "shop"}


def test_hostile_manifests_fail_short_and_hold_nobody(gw: GatewayProcess) -> None:
    before = rss_mb(gw.pid)
    with Poller(gw, "/shop/") as poller:
        copy_plugin(FIXTURES / "billion-laughs", gw.plugins_dir)
        stage(gw, "huge-manifest", {"plugin.yaml": "prefix: /huge\n# " + "x" * 2_000_000 + "\n"})
        stage(gw, "long-value", {"plugin.yaml": "framework: " + "y" * 60_000 + "\n"})
        for name in ("billion-laughs", "huge-manifest", "long-value"):
            info = gw.wait_plugin(name, status="failed")
            assert info["error"]["type"] == "ManifestError", info
            assert len(info["error"]["message"]) < 400, info["error"]["message"][:500]
    assert poller.errors == []
    assert poller.worst < 0.5, f"the event loop was held {poller.worst:.2f}s"
    assert rss_mb(gw.pid) - before < 50


def big_module(version: str, functions: int = 20000) -> str:
    body = "".join(
        f"def f{i}(a, b):\n    return a * {i} + b - {len(version)}\n" for i in range(functions)
    )
    return f"VERSION = {version!r}\n{body}"


def test_a_plugin_with_a_large_source_reloads_without_holding_the_loop(gw: GatewayProcess) -> None:
    app = HELLO.replace('{"plugin": "shop"}', '{"plugin": "big", "version": big.VERSION}')
    stage(gw, "big", {"app.py": "from . import big\n" + app, "big.py": big_module("v0")})
    gw.wait_plugin("big", timeout=60, status="active", generation=1)
    with Poller(gw, "/shop/") as poller:
        for i in range(1, 4):
            (gw.plugins_dir / "big" / "big.py").write_text(big_module(f"v{i}"))
            gw.wait_plugin("big", timeout=60, generation=i + 1)
            assert gw.client.get("/big/").json()["version"] == f"v{i}"
    assert poller.errors == []
    assert poller.worst < 0.25, f"the event loop was held {poller.worst:.2f}s"


def test_an_edit_that_keeps_size_and_second_is_never_served_stale(gw: GatewayProcess) -> None:
    stage(
        gw,
        "samesize",
        {
            "app.py": "from . import v\n"
            + HELLO.replace('{"plugin": "shop"}', '{"plugin": v.VERSION}'),
            "v.py": "VERSION = 'v1'\n",
        },
    )
    gw.wait_plugin("samesize", status="active", generation=1)
    assert gw.client.get("/samesize/").json() == {"plugin": "v1"}
    module = gw.plugins_dir / "samesize" / "v.py"
    before = module.stat()
    module.write_text("VERSION = 'v2'\n")  # same size
    os.utime(module, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same mtime
    assert gw.admin.post("/_gateway/plugins/samesize/reload").json()["generation"] == 2
    assert gw.client.get("/samesize/").json() == {"plugin": "v2"}
    assert not list(gw.plugins_dir.rglob("__pycache__"))  # nothing of ours in plugins/


def test_sigterm_stops_the_gateway_while_an_import_hangs(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    copy_plugin(FIXTURES / "hang-import", plugins)
    copy_plugin(FIXTURES / "shop", plugins)
    gateway = GatewayProcess(tmp_path, plugins, [], {"GATEWAY_PLUGINS_DRAIN_TIMEOUT_S": "2"})
    try:
        wait_for(lambda: gateway.client.get("/shop/").status_code == 200, timeout=30)
        assert gateway.client.get("/_gateway/ready").status_code == 503  # still importing
        started = time.monotonic()
        gateway.proc.send_signal(signal.SIGTERM)
        gateway.proc.wait(2 + 5 + 5)
        assert gateway.proc.returncode == 0, gateway.log()
        assert time.monotonic() - started < 2 + 5
    finally:
        gateway.stop()


def test_a_replaced_version_whose_thread_still_runs_is_named_and_keeps_its_globals(
    gw: GatewayProcess,
) -> None:
    copy_plugin(FIXTURES / "ticker", gw.plugins_dir)
    gw.wait_plugin("ticker", status="active", generation=1)
    (gw.plugins_dir / "ticker" / "version.txt").write_text("v2\n")
    gw.wait_plugin("ticker", status="active", generation=2)
    wait_for(lambda: "plugin ticker: generation 1 left 1 thread(s) running" in gw.log())
    assert "ticker-v1" in gw.log()
    ticks = gw.workdir / "ticker-v1.txt"
    seen = int(ticks.read_text() or 0)
    wait_for(lambda: int(ticks.read_text() or 0) > seen + 5)  # still ticking, globals intact
    (gw.workdir / "stop-ticker").touch()
    assert "NameError" not in gw.log() and "Exception in thread" not in gw.log()
