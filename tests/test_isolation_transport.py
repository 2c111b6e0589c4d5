"""Units of the isolation machinery that need no HTTP: frames, and the restart delay."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from pathlib import Path

import pytest
from conftest import FIXTURES

from gateway.isolation import IsolatedPlugin, WorkerSpec, supervisor
from gateway.isolation import transport as t


class _Collect(t.FrameProtocol):
    def __init__(self) -> None:
        super().__init__()
        self.frames: list[tuple[int, int, bytes]] = []

    def frame_received(self, kind: int, stream: int, payload: bytes) -> None:
        self.frames.append((kind, stream, payload))


def test_frames_survive_any_split_of_the_byte_stream() -> None:
    frames = [
        (t.REQUEST, 1, t.dumps(({"type": "http", "headers": [(b"a", b"b")]}, {"body": b""}))),
        (t.MSG, 1, t.dumps({"type": "http.response.body", "body": os.urandom(70000)})),
        (t.END, 1, t.dumps(None)),
        (t.WANT, 2, b""),
    ]
    wire = b"".join(t.HEADER.pack(len(p), k, s) + p for k, s, p in frames)

    async def feed(step: int) -> list[tuple[int, int, bytes]]:
        protocol = _Collect()
        for i in range(0, len(wire), step):
            protocol.data_received(wire[i : i + step])
        return protocol.frames

    for step in (1, 7, 9, 4096, len(wire)):
        assert asyncio.run(feed(step)) == frames


def test_restart_delay_doubles_and_resets_only_after_a_stable_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(supervisor, "STABLE_AFTER_S", 1.5)
    caplog.set_level(logging.ERROR, logger="gateway.isolation.supervisor")
    spec = WorkerSpec(
        name="iso-functions", folder=FIXTURES / "iso-functions", prefix="/f", data_dir=tmp_path
    )

    async def crash_three_times() -> None:
        plugin = IsolatedPlugin(spec)
        await plugin.start(60)
        try:
            for restarts, stable in ((1, False), (2, False), (3, True)):
                up_since = time.monotonic()
                if stable:  # let the process count as stable before it dies
                    while time.monotonic() < up_since + 1.6:
                        await asyncio.sleep(0.1)
                os.kill(plugin.pids[0], signal.SIGKILL)
                deadline = time.monotonic() + 30
                while not (plugin.restarts == restarts and plugin.status == "active"):
                    assert time.monotonic() < deadline, plugin
                    await asyncio.sleep(0.02)
        finally:
            await plugin.stop(5)
        assert plugin.pids == []

    asyncio.run(crash_three_times())
    delays = [
        r.getMessage().rsplit("restarting in ", 1)[1]
        for r in caplog.records
        if "restarting in" in r.getMessage()
    ]
    assert delays == ["0.5s", "1s", "0.5s"]
