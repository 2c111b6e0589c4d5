"""gateway.bytecode: plugin bytecode cached by content hash (PEP 552), never stale, never in
the plugins folder, compiled by a child process when there is a lot of it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.bytecode import IN_PROCESS_BYTES, BytecodeCache


def run(code: object) -> dict[str, object]:
    namespace: dict[str, object] = {}
    exec(code, namespace)
    return namespace


def test_cached_code_is_used_only_for_the_same_content(tmp_path: Path) -> None:
    cache = BytecodeCache(tmp_path / "cache")
    path = str(tmp_path / "m.py")
    v1, v2 = b"VERSION = 'v1'\n", b"VERSION = 'v2'\n"  # same size: what mtime+size cannot tell
    assert cache.load(path, v1) is None
    assert run(cache.compile(path, v1))["VERSION"] == "v1"
    assert cache.load(path, v1) is not None
    assert cache.load(path, v2) is None  # another content: never the stale code
    assert run(cache.compile(path, v2))["VERSION"] == "v2"
    assert cache.load(path, v1) is None  # replaced
    assert cache.file_for(path).is_relative_to(tmp_path / "cache")


def test_a_corrupt_entry_is_ignored(tmp_path: Path) -> None:
    cache = BytecodeCache(tmp_path)
    path, source = str(tmp_path / "m.py"), b"X = 1\n"
    cache.compile(path, source)
    entry = cache.file_for(path)
    entry.write_bytes(entry.read_bytes()[:20])
    assert cache.load(path, source) is None
    assert run(cache.compile(path, source))["X"] == 1


def test_an_unwritable_cache_only_costs_the_compile(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")  # the cache cannot be created below a file, not even by root
    cache = BytecodeCache(blocker / "cache")
    assert run(cache.compile(str(tmp_path / "m.py"), b"X = 2\n"))["X"] == 2
    assert run(cache.compile(str(tmp_path / "n.py"), b"X = 3\n"))["X"] == 3
    assert caplog.text.count("not writable") == 1  # said once


def test_prepare_compiles_much_source_in_a_child_and_little_not_at_all(tmp_path: Path) -> None:
    cache = BytecodeCache(tmp_path / "cache")
    small = tmp_path / "small.py"
    small.write_text("X = 1\n")
    big = tmp_path / "big.py"
    lines = [f"def f{i}(a, b):\n    return a * {i} + b\n" for i in range(2000)]
    big.write_text("".join(lines))
    assert big.stat().st_size > IN_PROCESS_BYTES
    cache.prepare([small])
    assert cache.stale([small]) == [(small, small.stat().st_size)]  # left to the import
    pid_before = os.getpid()
    cache.prepare([small, big])
    assert cache.stale([small, big]) == []  # the child compiled both
    assert os.getpid() == pid_before
    assert run(cache.compile(str(big), big.read_bytes()))["f3"](2, 1) == 7  # type: ignore[operator]
