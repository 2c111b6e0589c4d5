"""Hot reload, end to end: a real gateway watching a temporary plugins folder."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import GatewayProcess, wait_for
from websockets.sync.client import connect

PLUGIN = """\
import asyncio
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute

VERSION = "{version}"
HERE = Path(__file__).parent


async def index(request):
    return PlainTextResponse(VERSION)


async def slow(request):
    (HERE.parent.parent / "slow-{name}-entered").write_text(VERSION)
    await asyncio.sleep(float(request.query_params.get("s", "2")))
    return PlainTextResponse(VERSION)


async def echo(websocket):
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(VERSION + ":" + text)


async def lifespan(app):
    yield
    (HERE.parent.parent / "shutdown-{name}.log").open("a").write(VERSION + "\\n")


app = Starlette(
    routes=[Route("/", index), Route("/slow", slow), WebSocketRoute("/ws", echo)],
    lifespan=lifespan,
)
"""


def write_plugin(folder: Path, version: str, name: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(PLUGIN.format(version=version, name=name or folder.name))


def stage_and_rename(plugins: Path, name: str, version: str) -> None:
    staging = plugins / f".{name}.tmp"
    write_plugin(staging, version, name)
    staging.rename(plugins / name)


def text_of(gw: GatewayProcess, path: str) -> Callable[[], str | None]:
    def get() -> str | None:
        response = gw.client.get(path)
        return response.text if response.status_code == 200 else None

    return get


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[GatewayProcess]:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    gateway = GatewayProcess(
        tmp_path,
        plugins,
        [],
        {"GATEWAY_PLUGINS_SETTLE_MS": "100", "GATEWAY_PLUGINS_DRAIN_TIMEOUT_S": "10"},
    )
    gateway.wait_ready()
    yield gateway
    assert gateway.stop() == 0, gateway.log()


def test_staged_plugin_goes_live_changes_and_goes_away(gw: GatewayProcess) -> None:
    stage_and_rename(gw.plugins_dir, "alpha", "v1")
    assert wait_for(lambda: text_of(gw, "/alpha/")() == "v1")
    assert gw.plugin("alpha")["generation"] == 1

    write_plugin(gw.plugins_dir / "alpha", "v2")
    wait_for(lambda: text_of(gw, "/alpha/")() == "v2")
    assert gw.wait_plugin("alpha", generation=2, status="active", error=None)

    import shutil

    shutil.rmtree(gw.plugins_dir / "alpha")
    wait_for(lambda: gw.client.get("/alpha/").status_code == 404)
    assert gw.admin.get("/_gateway/plugins/alpha").status_code == 404
    # its lifespan shutdown ran for both versions
    log = gw.workdir / "shutdown-alpha.log"
    wait_for(lambda: log.exists() and log.read_text().split() == ["v1", "v2"])

    # re-added, it is a new plugin again: generation 1
    stage_and_rename(gw.plugins_dir, "alpha", "v3")
    wait_for(lambda: text_of(gw, "/alpha/")() == "v3")
    assert gw.plugin("alpha")["generation"] == 1


def test_syntax_error_keeps_old_version_until_fixed(gw: GatewayProcess) -> None:
    stage_and_rename(gw.plugins_dir, "beta", "v1")
    wait_for(lambda: text_of(gw, "/beta/")() == "v1")
    app = gw.plugins_dir / "beta" / "app.py"
    app.write_text(app.read_text() + "\ndef broken(:\n")
    info = wait_for(lambda: (i := gw.plugin("beta"))["error"] and i)
    assert (info["status"], info["generation"]) == ("active", 1)
    assert info["error"]["type"] == "SyntaxError"
    assert "app.py" in info["error"]["message"] and "line" in info["error"]["message"]
    assert text_of(gw, "/beta/")() == "v1"  # still served by generation 1

    write_plugin(gw.plugins_dir / "beta", "v2")
    gw.wait_plugin("beta", generation=2, status="active", error=None)
    assert text_of(gw, "/beta/")() == "v2"
    assert "load failed" in gw.log() and "generation 1 still serving" in gw.log()


def test_folder_copied_slowly_is_loaded_once_complete(gw: GatewayProcess) -> None:
    folder = gw.plugins_dir / "gamma"
    folder.mkdir()
    # app.py needs helper.py, written last: a half-copied folder would fail to import.
    (folder / "app.py").write_text(
        "from starlette.responses import PlainTextResponse\n"
        "from .helper import MESSAGE\n\n"
        "async def app(scope, receive, send):\n"
        "    await PlainTextResponse(MESSAGE)(scope, receive, send)\n"
    )
    for i in range(4):  # the copy itself is slow: each write well within settle_ms of the last
        time.sleep(0.04)
        (folder / f"data{i}.txt").write_text(str(i))
    (folder / "helper.py").write_text("MESSAGE = 'complete'\n")
    wait_for(lambda: text_of(gw, "/gamma/")() == "complete")
    info = gw.plugin("gamma")
    assert info["generation"] == 1 and info["error"] is None
    assert "plugin gamma: load failed" not in gw.log()


def test_slow_request_finishes_on_old_version(gw: GatewayProcess) -> None:
    stage_and_rename(gw.plugins_dir, "delta", "v1")
    wait_for(lambda: text_of(gw, "/delta/")() == "v1")
    result: dict[str, httpx.Response] = {}
    slow = threading.Thread(
        target=lambda: result.update(r=gw.client.get("/delta/slow", params={"s": "2"}))
    )
    slow.start()
    wait_for(lambda: (gw.workdir / "slow-delta-entered").exists())
    write_plugin(gw.plugins_dir / "delta", "v2")
    wait_for(lambda: text_of(gw, "/delta/")() == "v2")
    slow.join(10)
    assert result["r"].status_code == 200
    assert result["r"].text == "v1"
    # v1's shutdown ran only after its request finished
    log = gw.workdir / "shutdown-delta.log"
    wait_for(lambda: log.exists() and log.read_text().split() == ["v1"])


def test_websocket_to_a_survives_reload_of_b(gw: GatewayProcess) -> None:
    stage_and_rename(gw.plugins_dir, "wsa", "a1")
    stage_and_rename(gw.plugins_dir, "wsb", "b1")
    wait_for(lambda: text_of(gw, "/wsa/")() == "a1" and text_of(gw, "/wsb/")() == "b1")
    with connect(f"ws://127.0.0.1:{gw.port}/wsa/ws") as ws:
        ws.send("hello")
        assert ws.recv(5) == "a1:hello"
        for version in ("b2", "b3"):
            write_plugin(gw.plugins_dir / "wsb", version)
            wait_for(lambda v=version: text_of(gw, "/wsb/")() == v)
        ws.send("still there")
        assert ws.recv(5) == "a1:still there"
    assert gw.plugin("wsa")["generation"] == 1  # B's changes never reloaded A


def test_enable_disable_and_rename(gw: GatewayProcess) -> None:
    stage_and_rename(gw.plugins_dir, "eps", "v1")
    wait_for(lambda: text_of(gw, "/eps/")() == "v1")
    manifest = gw.plugins_dir / "eps" / "plugin.yaml"
    manifest.write_text("enabled: false\n")
    gw.wait_plugin("eps", status="disabled")
    assert gw.client.get("/eps/").status_code == 404
    manifest.write_text("enabled: true\n")
    gw.wait_plugin("eps", status="active", generation=2)
    assert text_of(gw, "/eps/")() == "v1"

    (gw.plugins_dir / "eps").rename(gw.plugins_dir / "zeta")
    wait_for(lambda: text_of(gw, "/zeta/")() == "v1")
    wait_for(lambda: gw.client.get("/eps/").status_code == 404)
    assert gw.admin.get("/_gateway/plugins/eps").status_code == 404


def test_changing_the_prefix_moves_the_plugin(gw: GatewayProcess) -> None:
    stage_and_rename(gw.plugins_dir, "mover", "v1")
    wait_for(lambda: text_of(gw, "/mover/")() == "v1")
    (gw.plugins_dir / "mover" / "plugin.yaml").write_text("prefix: /moved\n")
    wait_for(lambda: text_of(gw, "/moved/")() == "v1")
    assert gw.client.get("/mover/").status_code == 404  # the old prefix is gone at once
    assert gw.plugin("mover")["prefix"] == "/moved"
    # and another plugin may take the freed prefix
    stage_and_rename(gw.plugins_dir, "newcomer", "n1")
    (gw.plugins_dir / "newcomer" / "plugin.yaml").write_text("prefix: /mover\n")
    wait_for(lambda: text_of(gw, "/mover/")() == "n1")


def test_no_request_fails_under_load_while_reloading(gw: GatewayProcess) -> None:
    stage_and_rename(gw.plugins_dir, "hot", "0")
    wait_for(lambda: text_of(gw, "/hot/")() == "0")
    stop = threading.Event()
    failures: list[str] = []
    seen: set[str] = set()
    counts = [0] * 4

    def hammer(i: int) -> None:
        with httpx.Client(base_url=gw.base_url, timeout=10) as client:
            while not stop.is_set():
                try:
                    response = client.get("/hot/")
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:100]}")
                seen.add(response.text)
                counts[i] += 1

    with ThreadPoolExecutor(4) as pool:
        for i in range(4):
            pool.submit(hammer, i)
        wait_for(lambda: "0" in seen)  # the load is on before the first reload
        for version in ("1", "2", "3", "4", "5"):
            write_plugin(gw.plugins_dir / "hot", version)
            gw.wait_plugin("hot", generation=int(version) + 1)
            if version == "2":
                stage_and_rename(gw.plugins_dir, "other", "x")
            if version == "4":
                import shutil

                shutil.rmtree(gw.plugins_dir / "other")
        stop.set()
    assert failures == []
    assert sum(counts) > 100
    assert {"0", "5"} <= seen


def test_polling_watcher_picks_up_changes(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    gateway = GatewayProcess(tmp_path, plugins, ["--poll"], {"GATEWAY_PLUGINS_SETTLE_MS": "100"})
    try:
        gateway.wait_ready()
        wait_for(lambda: "(polling)" in gateway.log(), timeout=5)
        stage_and_rename(plugins, "polled", "v1")
        wait_for(lambda: text_of(gateway, "/polled/")() == "v1")
        write_plugin(plugins / "polled", "v2")
        wait_for(lambda: text_of(gateway, "/polled/")() == "v2")
    finally:
        assert gateway.stop() == 0, gateway.log()
