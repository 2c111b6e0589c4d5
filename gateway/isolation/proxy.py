"""The ASGI app the gateway mounts for an isolated plugin: each request goes to one of the
plugin's ready worker processes (the one with the fewest requests in flight)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..types import Receive, Scope, Send
from .process import WorkerProcess

_UNAVAILABLE = b'{"detail":"the plugin is restarting"}'


class IsolatedApp:
    """Routes requests to ``ready()`` processes; 503 with ``Retry-After`` while there is none
    (every process of the plugin is restarting)."""

    def __init__(
        self,
        name: str,
        ready: Callable[[], Sequence[WorkerProcess]],
        on_request: Callable[[WorkerProcess], None],
        request_timeout_s: float | None,
    ) -> None:
        self.name = name
        self._ready = ready
        self._on_request = on_request
        self._timeout = request_timeout_s
        self._turn = 0

    def __repr__(self) -> str:
        return f"IsolatedApp({self.name!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            # The workers run the plugin's lifespan; IsolatedPlugin.start() waited for it.
            await receive()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        ready = self._ready()
        if not ready:
            await self._unavailable(scope, receive, send)
            return
        process = ready[0] if len(ready) == 1 else self._pick(ready)
        self._on_request(process)
        await process.channel.relay(scope, receive, send, self._timeout)

    def _pick(self, ready: Sequence[WorkerProcess]) -> WorkerProcess:
        """The process with the fewest requests in flight; ties taken in turn."""
        self._turn = (self._turn + 1) % len(ready)
        best = ready[self._turn]
        for process in ready:
            if process.channel.inflight < best.channel.inflight:
                best = process
        return best

    async def _unavailable(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.close", "code": 1013})  # "try again later"
            return
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(_UNAVAILABLE)).encode()),
            (b"retry-after", b"1"),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": _UNAVAILABLE})
