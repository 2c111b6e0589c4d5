"""A plugin's own, lower, header limits (``limits.max_header_bytes`` / ``max_headers`` in its
``plugin.yaml``), checked once the request is routed to it.

The header limits of ``config.yaml`` are enforced at the door, as the bytes arrive
(:mod:`.protocol`): there no plugin is known yet, so they are the gateway's upper bound for
every plugin. A plugin may tighten them for its own requests; it cannot loosen them (a
manifest asking for more than the gateway's limit is logged at load, and the gateway's
limit applies). The check here reads the parsed headers, so it only exists for a plugin
whose limits are lower than the gateway's.
"""

from __future__ import annotations

from ..types import ASGIApp, Receive, Scope, Send
from .counters import PluginCounters
from .responses import refuse

#: ``": "`` between a header's name and value, as the line is counted at the door
_SEPARATOR = 2


class HeaderLimit:
    """ASGI middleware: 431 for a header line longer than ``max_line`` bytes or more than
    ``max_fields`` header fields."""

    __slots__ = ("app", "counters", "max_fields", "max_line", "plugin")

    def __init__(
        self,
        app: ASGIApp,
        max_line: int,
        max_fields: int,
        plugin: str,
        counters: PluginCounters,
    ) -> None:
        self.app = app
        self.max_line = max_line
        self.max_fields = max_fields
        self.plugin = plugin
        self.counters = counters

    def __repr__(self) -> str:
        return f"HeaderLimit({self.plugin!r}, max_line={self.max_line}, fields={self.max_fields})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = scope["headers"]
            problem = None
            if len(headers) > self.max_fields:
                problem = f"more than {self.max_fields} header fields"
            elif any(len(n) + len(v) + _SEPARATOR > self.max_line for n, v in headers):
                problem = f"a header line longer than {self.max_line} bytes"
            if problem is not None:
                self.counters.headers_too_large += 1
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1009})
                    return
                await refuse(send, 431, f"{problem} (limits of plugin {self.plugin!r})", close=True)
                return
        await self.app(scope, receive, send)
