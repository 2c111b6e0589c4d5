"""Django plugins: Django apps mounted side by side in the gateway's one Django runtime."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import PluginError
from ...hookspecs import hookimpl
from ...loader import PluginSource
from ...types import ASGIApp
from ...wsgi import WSGIAdapter
from .runtime import DjangoApp, DjangoRuntime

if TYPE_CHECKING:
    from ...app import Gateway
    from ...registry import PluginInfo

FRAMEWORK = "django"

ONE_SETTINGS = (
    "Django allows one settings module per process, and the gateway owns it: a Django plugin "
    "is a Django app (urls.py, views.py, models.py, templates/, static/), not a project. "
    "Remove {what} and put the settings you need under 'django: settings:' in config.yaml"
)


@hookimpl
def gateway_frameworks() -> list[str]:
    return [FRAMEWORK]


@hookimpl
def gateway_recognise_folder(folder: Path) -> str | None:
    return FRAMEWORK if (folder / "urls.py").is_file() else None


@hookimpl
def gateway_load_app(source: PluginSource, framework: str) -> object | None:
    if framework != FRAMEWORK:
        return None
    for own in ("settings.py", "settings"):
        if (source.folder / own).exists():
            raise PluginError(
                ONE_SETTINGS.format(what=f"{own} from the plugin folder"),
                plugin=source.name,
                file=source.folder / own,
                kind="DjangoSettingsError",
            )
    try:
        return DjangoRuntime.of(source.gateway).load(source)
    except PluginError as exc:
        if "already configured" in exc.message or "DJANGO_SETTINGS_MODULE" in exc.message:
            raise PluginError(
                ONE_SETTINGS.format(what="the code that configures settings"),
                plugin=source.name,
                file=exc.file,
                kind="DjangoSettingsError",
            ) from None
        raise


@hookimpl
def gateway_adapt_app(app: object, framework: str, source: PluginSource) -> ASGIApp | None:
    if framework != FRAMEWORK:
        return None
    assert isinstance(app, DjangoApp)
    return WSGIAdapter(app, source.gateway.executor)


@hookimpl
def gateway_describe_routes(app: object, framework: str) -> list[str] | None:
    if framework != FRAMEWORK or not isinstance(app, DjangoApp):
        return None
    from django.urls import URLPattern, URLResolver

    def walk(patterns: list[object], prefix: str) -> list[str]:
        lines: list[str] = []
        for p in patterns:
            if isinstance(p, URLResolver):
                if getattr(p, "namespace", None) == "admin":
                    lines.append(f"* {prefix}{p.pattern} (Django admin)")
                else:
                    lines += walk(list(p.url_patterns), f"{prefix}{p.pattern}")
            elif isinstance(p, URLPattern):
                lines.append(f"* {prefix}{p.pattern}")
        return lines

    return walk(list(app.urlconf.urlpatterns), "")


@hookimpl
def gateway_plugin_unloaded(plugin: PluginInfo, gateway: Gateway) -> None:
    if plugin.framework == FRAMEWORK and plugin.name not in gateway.registry.plugins:
        runtime = gateway.runtimes.get("django")
        if isinstance(runtime, DjangoRuntime):
            runtime.unload(plugin.name)
