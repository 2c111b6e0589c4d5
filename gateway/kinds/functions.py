"""``functions`` plugins: modules of ``@endpoint`` functions, served with no web framework."""

from __future__ import annotations

import types

from ..errors import NotAnApp
from ..functions import build_app, collect_endpoints
from ..hookspecs import hookimpl
from ..loader import PluginSource
from ..types import ASGIApp

FRAMEWORK = "functions"


@hookimpl
def gateway_frameworks() -> list[str]:
    return [FRAMEWORK]


@hookimpl(tryfirst=True)
def gateway_recognise_app(app: object) -> str | None:
    if isinstance(app, types.ModuleType) and collect_endpoints(app):
        return FRAMEWORK
    return None


@hookimpl
def gateway_load_app(source: PluginSource, framework: str) -> object | None:
    if framework != FRAMEWORK:
        return None
    return source.import_module(source.app_ref.partition(":")[0])


@hookimpl
def gateway_adapt_app(app: object, framework: str, source: PluginSource) -> ASGIApp | None:
    if framework != FRAMEWORK:
        return None
    assert isinstance(app, types.ModuleType)
    module_file = source.folder / (source.app_ref.partition(":")[0].replace(".", "/") + ".py")
    endpoints = collect_endpoints(app)
    if not endpoints:
        raise NotAnApp(
            "no @endpoint functions found (decorate functions with 'from gateway import "
            "endpoint' / '@endpoint')",
            plugin=source.name,
            file=module_file,
        )
    try:
        return build_app(endpoints, source.executor, title=source.name)
    except ValueError as exc:
        raise NotAnApp(str(exc), plugin=source.name, file=module_file) from None


@hookimpl
def gateway_describe_routes(app: object, framework: str) -> list[str] | None:
    if framework != FRAMEWORK or not isinstance(app, types.ModuleType):
        return None
    return [f"{','.join(e.methods)} {e.path}" for e in collect_endpoints(app)]
