"""The watcher's pieces without a file system: which paths count, and settling."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from watchfiles import Change

from gateway.watcher import PluginFolderFilter, PluginWatcher

ROOT = Path("/srv/plugins")


@pytest.mark.parametrize(
    ("path", "seen"),
    [
        ("shop/app.py", True),
        ("shop/templates/shop/index.html", True),
        ("shop/plugin.yaml", True),
        ("shop", True),
        ("shop/__pycache__/app.cpython-311.pyc", False),
        ("shop/app.pyc", False),
        ("shop/.app.py.swp", False),
        ("shop/app.py~", False),
        ("shop/.#app.py", False),
        ("shop/#app.py#", False),
        ("shop/4913", False),
        ("shop/.env", False),
        ("shop/.git/HEAD", False),
        (".shop.tmp/app.py", False),
        (".shop.tmp", False),
        ("_drafts/app.py", False),
        (".DS_Store", False),
    ],
)
def test_filter(path: str, seen: bool) -> None:
    assert PluginFolderFilter(ROOT)(Change.modified, str(ROOT / path)) is seen


def test_filter_ignores_paths_outside_the_root() -> None:
    assert not PluginFolderFilter(ROOT)(Change.added, "/elsewhere/app.py")


def test_plugin_of_maps_a_path_to_its_plugin_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("a file at the root is not a plugin")

    async def noop(name: str) -> None:
        pass

    watcher = PluginWatcher(tmp_path, noop, settle_ms=10, poll=False)
    assert watcher.plugin_of(str(tmp_path / "shop" / "views.py")) == "shop"
    assert watcher.plugin_of(str(tmp_path / "shop")) == "shop"  # e.g. a removed folder
    assert watcher.plugin_of(str(tmp_path / "notes.txt")) is None
    assert watcher.plugin_of(str(tmp_path / ".shop.tmp" / "app.py")) is None
    assert watcher.plugin_of("/elsewhere/x.py") is None


def test_events_settle_into_one_reload_per_plugin() -> None:
    calls: list[tuple[str, float]] = []
    settle = 0.3

    async def on_change(name: str) -> None:
        calls.append((name, asyncio.get_running_loop().time()))

    async def main() -> float:
        loop = asyncio.get_running_loop()
        watcher = PluginWatcher(ROOT, on_change, settle_ms=int(settle * 1000), poll=False)
        for _ in range(5):  # a folder written file by file: events far closer than settle_ms
            watcher.touch("shop")
            await asyncio.sleep(0)
        last_event = loop.time()
        watcher.touch("blog")
        assert calls == []  # nothing before the folders are quiet
        deadline = loop.time() + 10
        while len(calls) < 2 and loop.time() < deadline:
            await asyncio.sleep(0.01)
        await watcher.stop()
        return last_event

    last_event = asyncio.run(main())
    assert sorted(name for name, _ in calls) == ["blog", "shop"]  # once each
    # each fired only once its folder had been quiet for settle_ms (timers never fire early)
    assert all(at - last_event >= settle * 0.99 for _, at in calls)


def test_a_change_during_a_reload_reloads_again_afterwards() -> None:
    calls: list[str] = []
    release = asyncio.Event()

    async def on_change(name: str) -> None:
        calls.append(name)
        if len(calls) == 1:
            await release.wait()

    async def main() -> None:
        watcher = PluginWatcher(ROOT, on_change, settle_ms=10, poll=False)
        watcher.touch("shop")
        while not calls:
            await asyncio.sleep(0.005)
        watcher.touch("shop")  # changed again while the first reload runs
        await asyncio.sleep(0.05)
        assert calls == ["shop"]  # not twice at once
        release.set()
        deadline = asyncio.get_running_loop().time() + 5
        while len(calls) < 2 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        await watcher.stop()

    asyncio.run(main())
    assert calls == ["shop", "shop"]


def test_fingerprint_sees_a_same_second_edit_that_keeps_the_size(tmp_path: Path) -> None:
    import os

    async def noop(name: str) -> None:
        pass

    (tmp_path / "shop" / "__pycache__").mkdir(parents=True)
    app = tmp_path / "shop" / "app.py"
    app.write_text("VERSION = 'v1'\n")
    watcher = PluginWatcher(tmp_path, noop, settle_ms=10, poll=True)
    before = watcher.fingerprint("shop")
    stat = app.stat()
    app.write_text("VERSION = 'v2'\n")
    # same size, and the same whole second as before: what the poller cannot tell apart
    os.utime(app, ns=(stat.st_atime_ns, stat.st_mtime_ns // 10**9 * 10**9 + 999))
    (tmp_path / "shop" / "__pycache__" / "app.pyc").write_bytes(b"ignored")
    assert watcher.fingerprint("shop") != before
