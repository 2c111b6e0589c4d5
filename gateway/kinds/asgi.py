"""ASGI plugins (FastAPI, Starlette, any ASGI 3 callable): mounted as they are."""

from __future__ import annotations

import inspect

from ..errors import NotAnApp
from ..hookspecs import hookimpl
from ..loader import PluginSource
from ..observability.openapi import stabilize
from ..types import ASGIApp

FRAMEWORKS = ["asgi", "fastapi", "starlette"]


def is_asgi_app(obj: object) -> bool:
    """An ASGI 3 app is an async callable: a coroutine function or an object whose
    ``__call__`` is one (Starlette and FastAPI instances)."""
    if inspect.isclass(obj):
        return False
    return inspect.iscoroutinefunction(obj) or inspect.iscoroutinefunction(
        getattr(obj, "__call__", None)  # noqa: B004 - we need the method itself
    )


@hookimpl
def gateway_frameworks() -> list[str]:
    return FRAMEWORKS


@hookimpl
def gateway_recognise_app(app: object) -> str | None:
    module = type(app).__module__.split(".")[0]
    if module in ("fastapi", "starlette") and is_asgi_app(app):
        return module
    return "asgi" if is_asgi_app(app) else None


@hookimpl
def gateway_load_app(source: PluginSource, framework: str) -> object | None:
    return source.import_object() if framework in FRAMEWORKS else None


@hookimpl
def gateway_adapt_app(app: object, framework: str, source: PluginSource) -> ASGIApp | None:
    if framework not in FRAMEWORKS:
        return None
    if not is_asgi_app(app):
        raise NotAnApp(
            f"{source.app_ref!r} is a {type(app).__name__!r}, not an ASGI application "
            f"(framework {framework!r} needs an async callable such as a FastAPI instance)",
            plugin=source.name,
            file=source.manifest.file,
        )
    stabilize(app)  # its /openapi.json names no per-version module (issue 9)
    return app  # type: ignore[return-value]


@hookimpl
def gateway_describe_routes(app: object, framework: str) -> list[str] | None:
    if framework not in FRAMEWORKS:
        return None
    lines = []
    for route in getattr(app, "routes", None) or []:
        path = getattr(route, "path", None)
        if path is None:
            continue
        methods = sorted(getattr(route, "methods", None) or [])
        kind = "WS" if type(route).__name__ == "WebSocketRoute" else ",".join(methods) or "*"
        lines.append(f"{kind} {path}")
    return lines or ["* (an ASGI app that does not list its routes)"]
