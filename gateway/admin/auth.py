"""Bearer-token authentication of the admin API, as pure ASGI middleware."""

from __future__ import annotations

import re
import secrets

from starlette.responses import JSONResponse

from ..types import ASGIApp, Receive, Scope, Send


class BearerAuth:
    """401 with ``WWW-Authenticate: Bearer`` unless ``Authorization: Bearer <token>`` matches.

    Paths in ``public`` (relative to the admin prefix), and those ``pattern`` matches whole,
    need no token. The scheme word is
    matched case-insensitively (RFC 9110, section 11.1); the token in constant time, so it
    cannot be guessed byte by byte from timings. Without a token (``None``) every protected
    request is refused.
    """

    def __init__(
        self,
        app: ASGIApp,
        token: str | None,
        public: frozenset[str],
        pattern: re.Pattern[str] | None = None,
    ) -> None:
        self.app = app
        self.public = public
        self.pattern = pattern
        self._token = token.encode() if token is not None else None

    def __repr__(self) -> str:
        return f"BearerAuth(token=<hidden>, public={sorted(self.public)})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._is_public(route_path(scope)):
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not self._accepts(given):
                detail = "missing bearer token" if not given else "invalid bearer token"
                response = JSONResponse(
                    {"detail": detail},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="gateway"'},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _is_public(self, path: str) -> bool:
        if path in self.public:
            return True
        return self.pattern is not None and self.pattern.fullmatch(path) is not None

    def _accepts(self, header: bytes) -> bool:
        scheme, _, credentials = header.partition(b" ")
        if self._token is None or scheme.lower() != b"bearer":
            return False
        return secrets.compare_digest(credentials.strip(b" "), self._token)


def route_path(scope: Scope) -> str:
    """The request's path below the admin prefix (``/plugins``), ``/`` for the prefix itself."""
    path: str = scope["path"]
    return path[len(scope.get("root_path", "")) :] or "/"
