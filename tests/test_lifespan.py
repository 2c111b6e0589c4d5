"""Driving one app's ASGI lifespan (gateway.lifespan.Lifespan) with small raw ASGI apps."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any

import pytest
from starlette.applications import Starlette

from gateway.lifespan import Lifespan, LifespanFailed, summarise_failure
from gateway.types import Message, Receive, Scope, Send


class Recorder:
    """A raw ASGI app speaking the lifespan protocol; it records what it was told."""

    def __init__(self, startup: Message | None = None, shutdown: Message | None = None) -> None:
        self.startup = startup or {"type": "lifespan.startup.complete"}
        self.shutdown = shutdown or {"type": "lifespan.shutdown.complete"}
        self.received: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "lifespan"
        message = await receive()
        self.received.append(message["type"])
        scope["state"]["db"] = "connected"
        await send(self.startup)
        if self.startup["type"] == "lifespan.startup.failed":
            return
        message = await receive()
        self.received.append(message["type"])
        await send(self.shutdown)


async def http_only(scope: Scope, receive: Receive, send: Send) -> None:
    """An app from before lifespan existed: it refuses any scope but http."""
    assert scope["type"] == "http", "this app only speaks HTTP"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_startup_complete_then_shutdown() -> None:
    app = Recorder()

    async def main() -> Lifespan:
        lifespan = Lifespan(app, "shop")
        await lifespan.startup(5)
        assert app.received == ["lifespan.startup"]
        await lifespan.shutdown(5)
        return lifespan

    lifespan = run(main())
    assert app.received == ["lifespan.startup", "lifespan.shutdown"]
    assert lifespan.supported is True
    assert "shop" in repr(lifespan)


def test_state_set_at_startup_is_kept() -> None:
    async def main() -> dict[str, Any]:
        lifespan = Lifespan(Recorder(), "shop")
        await lifespan.startup(5)
        await lifespan.shutdown(5)
        return lifespan.state

    assert run(main()) == {"db": "connected"}


def test_startup_failed_raises_with_the_message() -> None:
    app = Recorder(startup={"type": "lifespan.startup.failed", "message": "no database"})

    async def main() -> None:
        lifespan = Lifespan(app, "shop")
        with pytest.raises(LifespanFailed, match=r"^no database$"):
            await lifespan.startup(5)
        await lifespan.shutdown(5)  # nothing to shut down: returns at once

    run(main())
    assert app.received == ["lifespan.startup"]


def test_startup_failed_without_a_message() -> None:
    async def main() -> None:
        with pytest.raises(LifespanFailed, match="lifespan startup failed"):
            await Lifespan(Recorder(startup={"type": "lifespan.startup.failed"}), "x").startup(5)

    run(main())


def test_app_without_lifespan_support_starts_fine() -> None:
    async def main() -> Lifespan:
        lifespan = Lifespan(http_only, "legacy")
        await lifespan.startup(5)
        await lifespan.shutdown(5)
        return lifespan

    lifespan = run(main())
    assert lifespan.supported is False


def test_app_crashing_after_startup_is_reported_at_shutdown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def half(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        raise RuntimeError("crashed after startup")

    async def main() -> Lifespan:
        lifespan = Lifespan(half, "half")
        await lifespan.startup(5)
        await lifespan.shutdown(5)
        return lifespan

    with caplog.at_level(logging.ERROR, logger="gateway.lifespan"):
        assert run(main()).supported is True
    assert "plugin half: lifespan shutdown failed: RuntimeError: crashed after startup" in (
        caplog.text
    )


def test_starlette_startup_failure_is_one_line_pointing_at_the_plugin() -> None:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        raise RuntimeError("cannot reach the cache")
        yield

    async def main() -> str:
        with pytest.raises(LifespanFailed) as info:
            await Lifespan(Starlette(lifespan=lifespan), "cache").startup(5)
        return str(info.value)

    message = run(main())
    assert message.startswith("RuntimeError: cannot reach the cache (at ")
    assert __file__ in message
    assert "Traceback" not in message
    assert "\n" not in message


def test_summarise_failure_skips_library_frames() -> None:
    assert summarise_failure("  plain message \n") == "plain message"
    import starlette

    library_file = starlette.__file__
    traceback = (
        "Traceback (most recent call last):\n"
        f'  File "/srv/plugins/shop/app.py", line 7, in lifespan\n'
        "    connect()\n"
        f'  File "{library_file}", line 99, in connect\n'
        "    raise\n"
        "ConnectionError: refused\n"
    )
    assert (
        summarise_failure(traceback) == "ConnectionError: refused (at /srv/plugins/shop/app.py:7)"
    )


def test_shutdown_failure_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    app = Recorder(shutdown={"type": "lifespan.shutdown.failed", "message": "flush failed"})

    async def main() -> None:
        lifespan = Lifespan(app, "shop")
        await lifespan.startup(5)
        await lifespan.shutdown(5)

    with caplog.at_level(logging.ERROR, logger="gateway.lifespan"):
        run(main())
    assert "plugin shop: lifespan shutdown failed: flush failed" in caplog.text


def test_startup_that_never_answers_times_out_and_is_stopped() -> None:
    cancelled = []

    async def silent(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main() -> None:
        lifespan = Lifespan(silent, "silent")
        with pytest.raises(TimeoutError):
            await lifespan.startup(0.05)
        assert lifespan._task is not None
        await asyncio.wait([lifespan._task], timeout=5)
        await asyncio.wait_for(lifespan.shutdown(5), 1)  # nothing left to shut down

    run(main())
    assert cancelled == [True]


def test_shutdown_that_never_answers_is_cancelled(caplog: pytest.LogCaptureFixture) -> None:
    cancelled = []

    async def stuck(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main() -> None:
        lifespan = Lifespan(stuck, "stuck")
        await lifespan.startup(5)
        await lifespan.shutdown(0.05)
        assert lifespan._task is not None
        await asyncio.wait([lifespan._task], timeout=5)

    with caplog.at_level(logging.WARNING, logger="gateway.lifespan"):
        run(main())
    assert cancelled == [True]
    assert "plugin stuck: lifespan shutdown timed out" in caplog.text


def test_app_raising_after_taking_the_startup_message_fails_its_startup() -> None:
    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        raise ConnectionError("cache unreachable")

    async def go() -> None:
        lifespan = Lifespan(raw, "raw")
        with pytest.raises(LifespanFailed, match="ConnectionError: cache unreachable"):
            await lifespan.startup(5)
        assert lifespan.supported

    run(go())
