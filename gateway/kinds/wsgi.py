"""WSGI plugins (Flask, any WSGI callable), served on the gateway's one shared thread pool."""

from __future__ import annotations

from ..compat import install_flask_instance_paths
from ..errors import NotAnApp
from ..hookspecs import GatewayView, hookimpl
from ..loader import PluginSource
from ..namespace import plugin_data_folder
from ..types import ASGIApp
from ..wsgi import WSGIAdapter
from .asgi import is_asgi_app

FRAMEWORKS = ["wsgi", "flask"]


@hookimpl
def gateway_frameworks() -> list[str]:
    return FRAMEWORKS


@hookimpl
def gateway_started(gateway: GatewayView) -> None:
    # Flask would put a plugin's instance/ folder in the plugins folder (see compat).
    install_flask_instance_paths(_instance_parent)


def _instance_parent(import_name: str) -> str | None:
    folder = plugin_data_folder(import_name)
    return str(folder) if folder is not None else None


@hookimpl(trylast=True)
def gateway_recognise_app(app: object) -> str | None:
    if type(app).__module__.split(".")[0] == "flask":
        return "flask"
    if callable(app) and not is_asgi_app(app):
        return "wsgi"
    return None


@hookimpl
def gateway_load_app(source: PluginSource, framework: str) -> object | None:
    return source.import_object() if framework in FRAMEWORKS else None


@hookimpl
def gateway_adapt_app(app: object, framework: str, source: PluginSource) -> ASGIApp | None:
    if framework not in FRAMEWORKS:
        return None
    if not callable(app) or is_asgi_app(app) or isinstance(app, type):
        raise NotAnApp(
            f"{source.app_ref!r} is a {type(app).__name__!r}, not a WSGI application "
            f"(framework {framework!r} needs a callable(environ, start_response), "
            "such as a Flask instance)",
            plugin=source.name,
            file=source.manifest.file,
        )
    config = getattr(app, "config", None)
    # Flask scopes its session cookie (and URLs built outside a request) to APPLICATION_ROOT;
    # left at "/", two Flask plugins would overwrite each other's "session" cookie.
    is_flask = type(app).__module__.split(".")[0] == "flask"
    if is_flask and config is not None and config.get("APPLICATION_ROOT", "/") == "/":
        config["APPLICATION_ROOT"] = source.manifest.prefix
    return WSGIAdapter(
        app, source.executor, multiprocess=source.services.multiprocess, name=source.name
    )


@hookimpl
def gateway_describe_routes(app: object, framework: str) -> list[str] | None:
    if framework not in FRAMEWORKS:
        return None
    url_map = getattr(app, "url_map", None)  # Flask / Werkzeug
    if url_map is None:
        return ["* (a WSGI app that does not list its routes)"]
    return [
        f"{','.join(sorted((rule.methods or set()) - {'HEAD', 'OPTIONS'}))} {rule.rule}"
        for rule in url_map.iter_rules()
    ]
