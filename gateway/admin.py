"""The admin API, under the admin prefix (default ``/_gateway``): health, readiness, the
plugins and their state, and reloading one now. Everything but ``health`` and ``ready``
needs ``Authorization: Bearer <token>``, but for the dashboard page and its assets (they
hold no data).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import dashboard
from .manifest import NAME_PATTERN
from .types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from .app import Gateway

PUBLIC_PATHS = frozenset({"/health", "/ready", *dashboard.PUBLIC_PATHS})


class BearerAuth:
    """Pure ASGI middleware: 401 with ``WWW-Authenticate: Bearer`` unless the token matches."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    def __repr__(self) -> str:
        return "BearerAuth(token=<hidden>)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _route_path(scope) not in PUBLIC_PATHS:
            given = dict(scope["headers"]).get(b"authorization", b"")
            # Constant time, so the token cannot be guessed byte by byte from timings.
            if not secrets.compare_digest(given, self._expected):
                detail = "missing bearer token" if not given else "invalid bearer token"
                response = JSONResponse(
                    {"detail": detail},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="gateway"'},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    return path[len(scope.get("root_path", "")) :] or "/"


def build_admin_app(gateway: Gateway) -> ASGIApp:
    """The admin API of ``gateway`` as a Starlette app (mounted by the root app)."""

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(request: Request) -> Response:
        if gateway.ready:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "starting"}, status_code=503)

    async def plugins(request: Request) -> Response:
        return JSONResponse({"plugins": [p.to_dict() for p in gateway.registry.infos()]})

    async def plugin(request: Request) -> Response:
        info = gateway.registry.info(request.path_params["name"])
        if info is None:
            raise HTTPException(404, f"no plugin named {request.path_params['name']!r}")
        return JSONResponse(info.to_dict())

    async def reload(request: Request) -> Response:
        name: str = request.path_params["name"]
        if not NAME_PATTERN.match(name) and name not in gateway.registry.plugins:
            raise HTTPException(404, f"no plugin named {name!r}")
        if not (gateway.plugins_dir / name).is_dir() and name not in gateway.registry.plugins:
            raise HTTPException(404, f"no plugin named {name!r}")
        await gateway.registry.load(name)
        info = gateway.registry.info(name)
        if info is None:  # its folder was removed: the reload unmounted it
            raise HTTPException(404, f"plugin {name!r} was removed")
        return JSONResponse(info.to_dict())

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/ready", ready),
            Route("/plugins", plugins),
            Route("/plugins/{name}", plugin),
            Route("/plugins/{name}/reload", reload, methods=["POST"]),
            *dashboard.dashboard_routes(),
        ],
        middleware=[Middleware(BearerAuth, token=gateway.token)],
        exception_handlers={HTTPException: http_error},
    )
