"""The gateway's request instrumentation: pure ASGI middleware around each plugin version
(and around the root app's "no plugin" answers).

Per HTTP request it keeps or assigns the request id (:mod:`.request_ids`) and echoes it on
the response, counts the request for the metrics (:class:`~.metrics.PluginStats`), writes the
access line (plugin, status, duration, request id) and logs an exception raised by the plugin
once, under the plugin's name with the request id, instead of uvicorn's anonymous
"Exception in ASGI application". ``time.perf_counter`` is read once at the start and once at
the end; nothing else per request allocates more than the send wrapper.

WebSocket connections get the request id only: they have no status code or duration that
the request metrics could count.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ..types import ASGIApp, Message, Receive, Scope, Send
from .logs import ACCESS_LOGGER, REQUEST, mark_logged
from .metrics import PluginStats
from .request_ids import HEADER, RequestIds

__all__ = ["Instrumented"]

access_logger = logging.getLogger(ACCESS_LOGGER)
_INFO = logging.INFO
_ERROR_BODY = b'{"detail":"Internal Server Error"}'


class Instrumented:
    """``app`` (one version of plugin ``plugin``) with request ids, metrics and logs.

    ``stats`` is ``None`` when metrics are off; ``access_log`` False drops the access line.
    """

    __slots__ = ("access_log", "app", "generation", "ids", "logger", "plugin", "stats")

    def __init__(
        self,
        app: ASGIApp,
        plugin: str,
        generation: int,
        *,
        ids: RequestIds,
        stats: PluginStats | None,
        access_log: bool,
    ) -> None:
        self.app = app
        self.plugin = plugin
        self.generation = generation
        self.ids = ids
        self.stats = stats
        self.access_log = access_log
        #: where the plugin's errors are logged: its name, never its per-version module's
        self.logger = logging.getLogger(f"plugin.{plugin}" if plugin else "gateway.app")

    def __repr__(self) -> str:
        return f"Instrumented({self.app!r}, plugin={self.plugin!r}, gen={self.generation})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                self.ids.ensure(scope)
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = self.ids.ensure(scope)
        context = REQUEST.set((self.plugin, request_id.decode()))
        stats = self.stats
        if stats is not None:
            stats.in_flight += 1
        status = 0
        complete = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, complete
            if message["type"] == "http.response.start":
                status = message["status"]
                message = _with_request_id(message, request_id)
            elif not message.get("more_body", False):
                complete = True
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            self.logger.error(
                "%s %s failed: %s: %s",
                scope["method"],
                scope["path"],
                type(exc).__name__,
                exc,
                exc_info=exc,
                extra={"generation": self.generation},
            )
            if complete:
                # Starlette's ServerErrorMiddleware answers 500, then re-raises for the
                # server to log: logged, and the connection may serve the next request.
                return
            if status:  # the response has begun: let the server abort the connection
                mark_logged(exc)
                raise
            status = 500
            await _internal_error(send, request_id)
        finally:
            REQUEST.reset(context)
            seconds = time.perf_counter() - started
            if stats is not None:
                stats.in_flight -= 1
                stats.finished(scope["method"], status or 500, seconds)
            if self.access_log and access_logger.isEnabledFor(_INFO):
                self._access(scope, status, seconds, request_id)

    def _access(self, scope: Scope, status: int, seconds: float, request_id: bytes) -> None:
        client = scope.get("client")
        path = scope["path"]  # whole, prefix included (root_path only says where it ends)
        query = scope.get("query_string", b"")
        target = f"{path}?{query.decode('latin-1')}" if query else path
        duration_ms = round(seconds * 1000, 3)
        rid = request_id.decode()
        access_logger.info(
            '%s - "%s %s HTTP/%s" %d plugin=%s %.1fms request_id=%s',
            f"{client[0]}:{client[1]}" if client else "-",
            scope["method"],
            target,
            scope.get("http_version", "1.1"),
            status or 500,
            self.plugin or "-",
            seconds * 1000,
            rid,
            extra={
                "plugin": self.plugin,
                "generation": self.generation,
                "request_id": rid,
                "method": scope["method"],
                "path": path,
                "status": status or 500,
                "duration_ms": duration_ms,
            },
        )


def _with_request_id(message: Message, request_id: bytes) -> Message:
    """A copy of a response start message carrying ``X-Request-ID`` (the message itself may
    be a constant an app sends every time); a header the app set itself is left alone."""
    headers: Any = message.get("headers", ())
    for name, _ in headers:
        if name.lower() == HEADER:
            return message
    return {**message, "headers": [*headers, (HEADER, request_id)]}


async def _internal_error(send: Send, request_id: bytes) -> None:
    """What uvicorn would answer to an exception before the response began, with the id."""
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_ERROR_BODY)).encode()),
                (b"connection", b"close"),
                (HEADER, request_id),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _ERROR_BODY})
