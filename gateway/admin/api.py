"""The admin API's endpoints: health, readiness, the plugins and their state, reloading one.

Everything but ``health``, ``ready`` and the dashboard page's files needs
``Authorization: Bearer <token>`` (:mod:`.auth`).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import dashboard
from ..manifest import is_valid_name
from ..registry import Registry
from ..types import ASGIApp
from .auth import BearerAuth

#: what needs no token: probes, and the dashboard page and its assets (they hold no data)
PUBLIC_PATHS = frozenset({"/health", "/ready", *dashboard.PUBLIC_PATHS})


def build_admin_app(
    registry: Registry, *, token: str | None, is_ready: Callable[[], bool]
) -> ASGIApp:
    """The admin API over ``registry`` as a Starlette app (mounted by the root app)."""

    def known(name: str) -> bool:
        # A name no folder can have is unknown without asking the file system (a 300-character
        # name would fail there with ENAMETOOLONG).
        return name in registry or (is_valid_name(name) and (registry.root / name).is_dir())

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(request: Request) -> Response:
        if is_ready():
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "starting"}, status_code=503)

    async def plugins(request: Request) -> Response:
        return JSONResponse({"plugins": [p.to_dict() for p in registry.infos()]})

    async def plugin(request: Request) -> Response:
        name: str = request.path_params["name"]
        info = registry.info(name)
        if info is None:
            raise HTTPException(404, f"no plugin named {name!r}")
        return JSONResponse(info.to_dict())

    async def reload(request: Request) -> Response:
        name: str = request.path_params["name"]
        if not known(name):
            raise HTTPException(404, f"no plugin named {name!r}")
        await registry.load(name)
        info = registry.info(name)
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
        middleware=[Middleware(BearerAuth, token=token, public=PUBLIC_PATHS)],
        exception_handlers={HTTPException: http_error},
    )
