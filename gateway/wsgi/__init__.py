"""Serving WSGI apps on the event loop: the adapter, ``wsgi.input``, the response thread."""

from __future__ import annotations

from .adapter import BUFFER_BYTES, SERVER_SOFTWARE, ResponseAborted, WSGIAdapter
from .input import ClientDisconnected, WSGIInput

__all__ = [
    "BUFFER_BYTES",
    "SERVER_SOFTWARE",
    "ClientDisconnected",
    "ResponseAborted",
    "WSGIAdapter",
    "WSGIInput",
]
