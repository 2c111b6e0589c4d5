"""An ASGI plugin for the observability tests: echoes what it received, answers any status,
fails before and after its response began, logs through its own module logger, warns, and
holds requests open on demand (``/hold`` until a marker file exists)."""

import asyncio
import logging
import os
import warnings
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

log = logging.getLogger(__name__)


async def echo(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "request_ids": request.headers.getlist("x-request-id"),
            "pid": os.getpid(),
        }
    )


async def status(request: Request) -> PlainTextResponse:
    code = int(request.path_params["code"])
    return PlainTextResponse(str(code), status_code=code)


async def boom(request: Request) -> PlainTextResponse:
    raise RuntimeError("boom from the plugin")


async def talk(request: Request) -> PlainTextResponse:
    log.warning("hello from the plugin's own logger")
    warnings.warn("a warning from the plugin", UserWarning, stacklevel=1)
    return PlainTextResponse("talked")


async def hold(request: Request) -> PlainTextResponse:
    marker = Path(request.query_params["marker"])
    for _ in range(600):  # at most 60 s
        if marker.exists():
            break
        await asyncio.sleep(0.1)
    return PlainTextResponse("released")


starlette_app = Starlette(
    routes=[
        Route("/echo", echo),
        Route("/status/{code:int}", status, methods=["GET", "POST", "DELETE"]),
        Route("/boom", boom),
        Route("/talk", talk),
        Route("/hold", hold),
    ]
)


async def app(scope, receive, send):
    # An exception before any response (Starlette itself would answer 500 first).
    if scope["type"] == "http" and scope["path"].endswith("/raw-boom"):
        raise ValueError("raw failure before the response")
    await starlette_app(scope, receive, send)
