"""Django plugins: Django apps mounted side by side in the gateway's one Django runtime."""

from __future__ import annotations

import traceback
from pathlib import Path

from ...errors import DjangoSettingsError, PluginCodeError
from ...hookspecs import hookimpl
from ...loader import PluginSource
from ...types import ASGIApp
from ...wsgi import WSGIAdapter
from .runtime import DjangoApp, DjangoRuntime

FRAMEWORK = "django"

ONE_SETTINGS = (
    "Django allows one settings module per process, and the gateway owns it: a Django plugin "
    "in the gateway's process is a Django app (urls.py, views.py, models.py, templates/, "
    "static/), not a project. Either remove {what} and put the settings you need under "
    "'django: settings:' in config.yaml, or serve the project in processes of its own with "
    "'isolation: process' in plugin.yaml"
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
            raise DjangoSettingsError(
                ONE_SETTINGS.format(what=f"{own} from the plugin folder"),
                plugin=source.name,
                file=source.folder / own,
            )
    try:
        return DjangoRuntime.for_process(source.services, source.name).load(source)
    except PluginCodeError as exc:
        if _configures_settings(exc):
            raise DjangoSettingsError(
                ONE_SETTINGS.format(what="the code that configures settings"),
                plugin=source.name,
                file=exc.file,
            ) from None
        raise


def _configures_settings(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) was raised inside ``settings.configure()``: the
    plugin tried to configure Django itself."""
    from django.conf import LazySettings

    configure = LazySettings.configure.__code__
    seen: BaseException | None = exc
    while seen is not None:
        if any(frame.f_code is configure for frame, _ in traceback.walk_tb(seen.__traceback__)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@hookimpl
def gateway_adapt_app(app: object, framework: str, source: PluginSource) -> ASGIApp | None:
    if framework != FRAMEWORK:
        return None
    assert isinstance(app, DjangoApp)
    return WSGIAdapter(
        app, source.executor, multiprocess=source.services.multiprocess, name=source.name
    )


@hookimpl
def gateway_describe_routes(app: object, framework: str) -> list[str] | None:
    if framework != FRAMEWORK or not isinstance(app, DjangoApp):
        return None
    return describe_patterns(list(app.urlconf.urlpatterns))


def describe_patterns(patterns: list[object], prefix: str = "") -> list[str]:
    """One line per URL pattern of a URLconf, nested ones flattened, the admin as one line
    (also for an isolated Django project's URLconf, :mod:`gateway.isolation.host`)."""
    from django.urls import URLPattern, URLResolver

    lines: list[str] = []
    for p in patterns:
        if isinstance(p, URLResolver):
            if getattr(p, "namespace", None) == "admin":
                lines.append(f"* {prefix}{p.pattern} (Django admin)")
            else:
                lines += describe_patterns(list(p.url_patterns), f"{prefix}{p.pattern}")
        elif isinstance(p, URLPattern):
            lines.append(f"* {prefix}{p.pattern}")
    return lines
