"""Request timeouts in-process (gateway.containment.timeout): whose cancellation is whose."""

from __future__ import annotations

import asyncio

import pytest

from gateway.containment.counters import PluginCounters
from gateway.containment.timeout import Timeout


def test_a_timeout_answers_504_and_leaves_other_cancellations_alone() -> None:
    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def forever(scope: object, receive: object, send: object) -> None:
        await asyncio.Event().wait()

    async def main() -> None:
        counters = PluginCounters()
        app = Timeout(forever, 0.05, "p", counters)
        scope = {"type": "http", "method": "GET", "path": "/"}
        await asyncio.wait_for(app(scope, None, send), 5)  # type: ignore[arg-type]
        assert sent[0]["status"] == 504 and counters.timeouts == 1
        # Cancelled by someone else (the server stopping): not a 504, the cancel goes on.
        sent.clear()
        task = asyncio.create_task(app(scope, None, send))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sent == [] and counters.timeouts == 1

    asyncio.run(main())
