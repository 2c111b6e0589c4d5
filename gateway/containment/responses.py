"""The answers containment gives instead of the plugin: 413, 431, 503, 504, as JSON.

They have the shape of the gateway's own 404 (``{"detail": ...}``), so a client sees one
style of refusal whatever refused it.
"""

from __future__ import annotations

import json

from ..types import Send


async def refuse(
    send: Send,
    status: int,
    detail: str,
    *,
    close: bool = False,
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """Send a complete JSON response ``{"detail": detail}`` with ``status``.

    ``close`` asks the server to close the connection after it (``Connection: close``): for a
    request whose body is left unread, so the rest of it is not taken as the next request.
    """
    body = json.dumps({"detail": detail}).encode()
    start_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    if close:
        start_headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": start_headers})
    await send({"type": "http.response.body", "body": body})
