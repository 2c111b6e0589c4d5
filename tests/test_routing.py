from __future__ import annotations

import asyncio
import sys
import types

import pytest

from gateway.routing import MountedApp, PrefixTable


async def _noop(scope, receive, send):  # type: ignore[no-untyped-def]
    pass


def mount(table: PrefixTable, prefix: str, name: str | None = None) -> MountedApp:
    app = MountedApp(name or prefix, prefix, _noop, 1, {})
    table.set(prefix, app)
    return app


def names(table: PrefixTable, path: str) -> str | None:
    found = table.lookup(path)
    return found.name if found else None


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/shop", "/shop"),
        ("/shop/", "/shop"),
        ("/shop/x", "/shop"),
        ("/shopping", "/shopping"),
        ("/shopping/cart", "/shopping"),
        ("/shopx", None),
        ("/sho", None),
        ("/shop/admin", "/shop/admin"),
        ("/shop/admin/users", "/shop/admin"),
        ("/shop/administrator", "/shop"),
        ("/a/b/c/d", "/a/b/c"),
        ("/a/b", None),
        ("/a/b/cd", None),
        ("/", None),
        ("", None),
    ],
)
def test_longest_prefix_on_segment_boundary(path: str, expected: str | None) -> None:
    table = PrefixTable()
    for prefix in ("/shop", "/shopping", "/shop/admin", "/a/b/c"):
        mount(table, prefix)
    assert names(table, path) == expected


def test_root_prefix_is_the_fallback() -> None:
    table = PrefixTable()
    mount(table, "/shop")
    mount(table, "/", "root")
    assert names(table, "/anything/else") == "root"
    assert names(table, "/shop/x") == "/shop"
    assert names(table, "/") == "root"
    table.remove("/")
    assert names(table, "/anything") is None


def test_set_replaces_in_one_step_and_remove_checks_identity() -> None:
    table = PrefixTable()
    v1 = mount(table, "/x", "v1")
    v2 = MountedApp("v2", "/x", _noop, 2, {})
    assert table.set("/x", v2) is v1
    assert names(table, "/x/y") == "v2"
    assert table.remove("/x", v1) is None  # a stale version cannot unmount its successor
    assert names(table, "/x") == "v2"
    assert table.remove("/x", v2) is v2
    assert names(table, "/x") is None
    assert len(table) == 0


def opcodes_of_lookup(table: PrefixTable, path: str) -> int:
    """How many bytecode instructions ``table.lookup(path)`` runs: a count that, unlike a
    timing, does not depend on what else the machine is doing."""
    count = 0

    def trace(frame: types.FrameType, event: str, arg: object) -> object:
        nonlocal count
        frame.f_trace_opcodes = True
        count += event == "opcode"
        return trace

    sys.settrace(trace)
    try:
        table.lookup(path)
    finally:
        sys.settrace(None)
    return count


def test_lookup_cost_does_not_grow_with_plugins() -> None:
    small, large = PrefixTable(), PrefixTable()
    for table in (small, large):
        mount(table, "/target")
        mount(table, "/a/b")
    for i in range(5000):
        mount(large, f"/p{i}")
        mount(large, f"/q{i}/sub")
    for path in ("/target/items/1", "/a/b/c", "/nothing/here"):
        assert large.lookup(path) is not None or path == "/nothing/here"
        assert opcodes_of_lookup(large, path) == opcodes_of_lookup(small, path) > 0


def test_mounted_app_sets_root_path_and_counts_inflight() -> None:
    seen: dict[str, object] = {}
    release = asyncio.Event()

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.update(
            root_path=scope["root_path"],
            app_root_path=scope["app_root_path"],
            path=scope["path"],
            state=scope.get("state"),
        )
        await release.wait()

    async def main() -> None:
        mounted = MountedApp("p", "/p", app, 1, {"k": "v"})
        scope = {"type": "http", "path": "/p/x", "root_path": "/outer"}

        async def dispatch() -> None:  # as the root app does
            mounted.enter(scope, scope["root_path"])
            try:
                await mounted.app(scope, _noop, _noop)  # type: ignore[arg-type]
            finally:
                mounted.leave()

        task = asyncio.create_task(dispatch())
        await asyncio.sleep(0)
        assert mounted.inflight == 1
        assert not await mounted.drained(0.01)
        release.set()
        assert await mounted.drained(1.0)
        await task
        assert mounted.inflight == 0

    asyncio.run(main())
    assert seen == {
        "root_path": "/outer/p",
        "app_root_path": "/outer/p",
        "path": "/p/x",
        "state": {"k": "v"},
    }
