"""Request ids (CONTRACT section 15): an incoming ``X-Request-ID`` of 1 to 128 characters of
``[A-Za-z0-9._-]`` is kept; a missing, empty or invalid one is replaced by a generated one
matching the same pattern. The plugin receives it as that header (ASGI ``scope["headers"]``;
a WSGI app sees ``HTTP_X_REQUEST_ID``) and the response carries it.

Generated ids are a random per-process prefix and a counter, not a UUID per request: unique
across workers and restarts all the same (64 random bits per process), and a few hundred
nanoseconds cheaper on every request, which the metrics' 3% budget counts.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Callable

from ..types import Scope

__all__ = ["HEADER", "RequestIds", "is_valid"]

#: the header name, lower case as ASGI gives header names
HEADER = b"x-request-id"
_VALID = re.compile(rb"[A-Za-z0-9._-]{1,128}")


def is_valid(value: bytes) -> bool:
    """Whether ``value`` may be kept as a request id."""
    return _VALID.fullmatch(value) is not None


class RequestIds:
    """Keeps or assigns the request id of each request (one instance per gateway)."""

    __slots__ = ("_next", "_prefix")

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(8) + "-"
        self._next: Callable[[], int] = itertools.count(1).__next__

    def __repr__(self) -> str:
        return f"RequestIds(prefix={self._prefix!r})"

    def generate(self) -> bytes:
        """A new id: ``<16 hex digits>-<counter in hex>``."""
        return f"{self._prefix}{self._next():x}".encode()

    def ensure(self, scope: Scope) -> bytes:
        """The request's id, kept from its ``X-Request-ID`` header if valid; otherwise a new
        one, which replaces every ``X-Request-ID`` header in ``scope["headers"]``."""
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        invalid = False
        for name, value in headers:
            if name == HEADER:
                if is_valid(value):
                    return value
                invalid = True
                break
        request_id = self.generate()
        # A copy either way: a server may hand out a tuple, or share its list.
        headers = [(n, v) for n, v in headers if n != HEADER] if invalid else list(headers)
        headers.append((HEADER, request_id))
        scope["headers"] = headers
        return request_id
