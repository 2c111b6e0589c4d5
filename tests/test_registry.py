"""The registry in-process: atomic replacement, release of old versions, prefix rules."""

from __future__ import annotations

import asyncio
import gc
import sys
import types
import weakref
from pathlib import Path

import httpx
import pytest

from gateway.app import Gateway
from gateway.config import Config, PluginsConfig
from gateway.namespace import PACKAGE_PREFIX

APP = """\
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from . import helper

BIG = bytearray(1024 * 1024)  # makes a leaked version visible in memory, too


class Marker:
    pass


MARKER = Marker()


async def index(request):
    return PlainTextResponse(helper.VERSION)

app = Starlette(routes=[Route("/", index)])
"""


def make_gateway(tmp_path: Path) -> Gateway:
    config = Config(plugins=PluginsConfig(dir=tmp_path, watch=False, drain_timeout_s=5))
    return Gateway(config)


def write(folder: Path, version: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "app.py").write_text(APP)
    (folder / "helper.py").write_text(f"VERSION = {version!r}\n")


async def settle(gateway: Gateway) -> None:
    """Wait for background retirements (drain, shutdown, release) to finish."""
    await gateway.registry.settled()


def serving_module(gateway: Gateway, prefix: str) -> types.ModuleType:
    """The ``app`` module of the version mounted at ``prefix`` (found from its route)."""
    mounted = gateway.routes.get(prefix)
    assert mounted is not None
    app = mounted.app
    while not hasattr(app, "routes"):  # inside its limits and the gateway_wrap_app middleware
        app = app.app  # type: ignore[attr-defined]
    return sys.modules[app.routes[0].endpoint.__module__]  # type: ignore[attr-defined]


async def get(gateway: Gateway, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        return await client.get(path)


def test_released_versions_are_freed_without_waiting_for_the_cyclic_gc(tmp_path: Path) -> None:
    gateway = make_gateway(tmp_path)
    folder = tmp_path / "refcount"
    markers: list[weakref.ref[object]] = []

    async def main() -> None:
        for i in range(5):
            write(folder, f"v{i}")
            await gateway.registry.load("refcount")
            module = serving_module(gateway, "/refcount")
            markers.append(weakref.ref(module.MARKER))
            del module
            await settle(gateway)
        await gateway.shutdown()

    gc.collect()
    gc.disable()  # what is freed now is freed by reference counting alone
    try:
        asyncio.run(main())
        assert [m() is None for m in markers[:-1]] == [True] * 4
    finally:
        gc.enable()


def plugin_modules() -> set[str]:
    return {m for m in sys.modules if m.startswith(PACKAGE_PREFIX)}


def test_old_versions_are_released_after_many_reloads(tmp_path: Path) -> None:
    gateway = make_gateway(tmp_path)
    folder = tmp_path / "cycle"
    refs: list[weakref.ref[object]] = []

    async def main() -> None:
        before = plugin_modules()
        for i in range(30):
            write(folder, f"v{i}")
            info = await gateway.registry.load("cycle")
            assert info.status == "active" and info.generation == i + 1
            assert (await get(gateway, "/cycle/")).text == f"v{i}"
            module = serving_module(gateway, "/cycle")
            refs.append(weakref.ref(module.app))
            refs.append(weakref.ref(sys.modules[module.__package__ + ".helper"]))
            del module
        await settle(gateway)
        gc.collect()
        alive = [r for r in refs[:-2] if r() is not None]
        assert alive == [], f"{len(alive)} old app objects/modules still referenced"
        assert refs[-1]() is not None  # the current version is, of course, alive
        package = serving_module(gateway, "/cycle").__package__
        assert plugin_modules() - before == {package, package + ".app", package + ".helper"}
        await gateway.shutdown()
        assert plugin_modules() == before

    asyncio.run(main())


def test_failed_reload_keeps_serving_and_releases_the_attempt(tmp_path: Path) -> None:
    gateway = make_gateway(tmp_path)
    folder = tmp_path / "keep"

    async def main() -> None:
        write(folder, "good")
        await gateway.registry.load("keep")
        modules = plugin_modules()
        (folder / "helper.py").write_text("VERSION = (\n")
        info = await gateway.registry.load("keep")
        assert info.status == "active" and info.generation == 1
        assert info.error is not None and info.error["type"] == "SyntaxError"
        assert "helper.py" in info.error["message"]
        assert (await get(gateway, "/keep/")).text == "good"
        assert plugin_modules() == modules  # the failed attempt left nothing behind
        write(folder, "fixed")
        info = await gateway.registry.load("keep")
        assert (info.status, info.generation, info.error) == ("active", 2, None)
        assert (await get(gateway, "/keep/")).text == "fixed"
        await gateway.shutdown()

    asyncio.run(main())


def test_duplicate_prefix_fails_later_plugin_until_freed(tmp_path: Path) -> None:
    gateway = make_gateway(tmp_path)

    async def main() -> None:
        write(tmp_path / "first", "1")
        write(tmp_path / "second", "2")
        (tmp_path / "second" / "plugin.yaml").write_text("prefix: /first\n")
        await gateway.registry.scan()
        second = gateway.registry.info("second")
        assert second is not None and second.status == "failed"
        assert second.error is not None
        assert "'first'" in second.error["message"] and "'second'" in second.error["message"]
        assert (await get(gateway, "/first/")).text == "1"
        # Removing the holder frees the prefix: the waiting plugin gets it.
        import shutil

        shutil.rmtree(tmp_path / "first")
        await gateway.registry.unload("first")
        await settle(gateway)
        assert (await get(gateway, "/first/")).text == "2"
        await gateway.shutdown()

    asyncio.run(main())


@pytest.mark.parametrize("prefix", ["/_gateway", "/_gateway/", "/_gateway/health", "/_gateway/x/y"])
def test_admin_prefix_and_everything_under_it_cannot_be_claimed(
    tmp_path: Path, prefix: str
) -> None:
    gateway = make_gateway(tmp_path)

    async def main() -> None:
        write(tmp_path / "sneaky", "1")
        (tmp_path / "sneaky" / "plugin.yaml").write_text(f"prefix: {prefix}\n")
        info = await gateway.registry.load("sneaky")
        assert info.status == "failed" and info.error is not None
        assert info.error["type"] == "PrefixReserved"
        assert "reserved for the admin API" in info.error["message"]
        assert len(gateway.routes) == 0
        assert (await get(gateway, "/_gateway/health")).json() == {"status": "ok"}
        await gateway.shutdown()

    asyncio.run(main())


def test_wsgi_plugins_share_one_bounded_pool(tmp_path: Path) -> None:
    config = Config(plugins=PluginsConfig(dir=tmp_path, watch=False), wsgi={"threads": 4})
    gateway = Gateway(config)
    for i in range(100):
        folder = tmp_path / f"f{i}"
        folder.mkdir()
        (folder / "app.py").write_text(
            "def app(environ, start_response):\n"
            "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
            f"    return [b'f{i}']\n"
        )

    async def main() -> None:
        import threading

        await gateway.registry.scan()
        responses = await asyncio.gather(*(get(gateway, f"/f{i}/") for i in range(100)))
        assert [r.text for r in responses] == [f"f{i}" for i in range(100)]
        wsgi_threads = [t for t in threading.enumerate() if t.name.startswith("gateway-wsgi")]
        assert 1 <= len(wsgi_threads) <= 4
        assert all(t.name.startswith("gateway-wsgi") for t in wsgi_threads)
        assert not [t for t in threading.enumerate() if t.name.startswith("WSGI")]  # a2wsgi's own
        await gateway.shutdown()

    asyncio.run(main())


def test_scan_calls_after_each_once_every_plugin_has_been_tried(tmp_path: Path) -> None:
    """The first scan freezes the heap as each plugin is tried (``Gateway._first_scan``): the
    hook runs once per plugin, after that plugin's attempt, failed ones included."""
    gateway = make_gateway(tmp_path)
    for name in ("a", "b", "c"):
        write(tmp_path / name, name)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "app.py").write_text("raise RuntimeError('no')\n")
    seen: list[list[str]] = []

    def after_each() -> None:
        infos = gateway.registry.infos()
        seen.append(sorted(i.name for i in infos if i.status in ("active", "failed")))

    async def main() -> None:
        await gateway.registry.scan(after_each=after_each)
        await gateway.shutdown()

    asyncio.run(main())
    assert [len(tried) for tried in seen] == [1, 2, 3, 4]
    assert seen[-1] == ["a", "b", "broken", "c"]


def test_the_first_scan_leaves_every_loaded_object_frozen(tmp_path: Path) -> None:
    """What the first scan loaded is out of the cyclic GC's reach (memory.freeze_heap)."""
    gateway = make_gateway(tmp_path)
    write(tmp_path / "a", "1")
    gc.unfreeze()

    async def main() -> None:
        await gateway.startup()
        await wait_ready(gateway)
        module = serving_module(gateway, "/a")
        namespace = module.__dict__
        assert gc.get_freeze_count() > 0
        assert not any(tracked is namespace for tracked in gc.get_objects())
        await gateway.shutdown()

    try:
        asyncio.run(main())
    finally:
        gc.unfreeze()


async def wait_ready(gateway: Gateway) -> None:
    for _ in range(500):  # at most 5 s
        if gateway.ready:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the first scan did not finish within 5 s")
