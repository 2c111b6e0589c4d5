"""The admin API's endpoints: health, readiness, the plugins and their state, reloading one,
per-plugin health, metrics and the merged OpenAPI document.

Everything but ``health``, ``ready``, ``plugins/<name>/health`` and the dashboard and docs
pages' files needs ``Authorization: Bearer <token>`` (:mod:`.auth`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import dashboard
from ..manifest import is_valid_name
from ..observability import openapi
from ..observability.metrics import Metrics, NoMetrics
from ..plugin import SERVING
from ..registry import Registry
from ..types import ASGIApp
from .auth import BearerAuth

logger = logging.getLogger(__name__)

#: what needs no token: probes, and the dashboard page and its assets (they hold no data)
PUBLIC_PATHS = frozenset({"/health", "/ready", *dashboard.PUBLIC_PATHS})
#: per-service probes need no token either (the name is checked by the endpoint)
PUBLIC_PATTERN = re.compile(r"/plugins/[^/]+/health")


def build_admin_app(
    registry: Registry,
    *,
    token: str | None,
    is_ready: Callable[[], bool],
    metrics: Metrics | NoMetrics | None = None,
) -> ASGIApp:
    """The admin API over ``registry`` as a Starlette app (mounted by the root app).

    ``metrics``: served at ``/metrics`` when enabled; otherwise that path is a 404.
    """

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

    async def plugin_health(request: Request) -> Response:
        name: str = request.path_params["name"]
        info = registry.info(name)
        if info is None:
            raise HTTPException(404, f"no plugin named {name!r}")
        serving = info.status in SERVING
        return JSONResponse(
            {"name": name, "status": info.status, "generation": info.generation},
            status_code=200 if serving else 503,
        )

    async def metrics_text(request: Request) -> Response:
        if not isinstance(metrics, Metrics):
            raise HTTPException(404, "metrics are disabled (metrics.enabled: false)")
        metrics.flush()  # on the event loop, where the request counters are kept
        body, content_type = await anyio.to_thread.run_sync(metrics.exposition)
        return Response(body, headers={"Content-Type": content_type})

    def merged_openapi() -> dict[str, Any]:
        parts = []
        for info, version in registry.serving():
            try:
                document = version.openapi()
            except Exception:  # one plugin's broken schema must not hide the others
                logger.exception("plugin %s: its OpenAPI document failed", info.name)
                continue
            if document is not None:
                parts.append((info.name, info.prefix or "/", info.framework, document))
        return openapi.merge(parts)

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(await anyio.to_thread.run_sync(merged_openapi))

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
            Route("/plugins/{name}/health", plugin_health),
            Route("/metrics", metrics_text),
            Route("/openapi.json", openapi_json),
            *dashboard.dashboard_routes(),
        ],
        middleware=[
            Middleware(BearerAuth, token=token, public=PUBLIC_PATHS, pattern=PUBLIC_PATTERN)
        ],
        exception_handlers={HTTPException: http_error},
    )
