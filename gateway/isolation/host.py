"""Loading the plugin inside the worker process, with the gateway's own loading code.

A plugin in a worker is loaded exactly as in the gateway (its manifest, the requirements
check, the import in its own namespace, the framework kinds), so it behaves the same in both
places; the worker only adds what needs a process of its own: a Django *project*.

A Django project is a folder with its own ``settings.py`` at the top (its apps, database,
admin): the folder goes first on ``sys.path``, as ``manage.py`` would put it, so the settings
name the project's modules the way its author wrote them (``ROOT_URLCONF = "urls"``,
``INSTALLED_APPS = [..., "notes"]``); unapplied migrations are applied, and Django's WSGI
handler serves it with ``SCRIPT_NAME`` = the prefix.
"""

from __future__ import annotations

import os
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..bytecode import BytecodeCache
from ..config import Config
from ..errors import DjangoError, GatewayError
from ..extensions import build_plugin_manager
from ..loader import LoadServices, PluginSource, load_guarded
from ..manifest import read_manifest
from ..namespace import PACKAGE_PREFIX, Namespace
from ..wsgi import WSGIAdapter

if TYPE_CHECKING:
    from ..types import ASGIApp
    from .spec import WorkerSpec

#: the environment variable a Django project's settings can read to keep its database (and
#: anything else it writes) out of the plugins folder
DATA_DIR_ENV = "GATEWAY_DATA_DIR"


@dataclass
class HostedApp:
    """The loaded plugin: the ASGI app to serve and the pool to shut down with the process."""

    app: ASGIApp
    framework: str
    executor: ThreadPoolExecutor
    #: what the plugin's module gave before the gateway adapted it (its FastAPI app, ...)
    raw: object = None
    #: its routes, one line each, as ``gateway check`` shows them
    routes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _WorkerView:
    """What the kinds' ``gateway_started`` hook sees of the worker (hookspecs.GatewayView)."""

    config: Config
    plugins_dir: Path
    data_dir: Path

    def plugins(self) -> list[Any]:
        return []


def is_django_project(folder: Path) -> bool:
    return (folder / "settings.py").is_file()


def load(spec: WorkerSpec) -> HostedApp:
    """Load ``spec``'s plugin in this process; raise a ``PluginError`` on failure."""
    executor = ThreadPoolExecutor(max_workers=spec.wsgi_threads, thread_name_prefix="gateway-wsgi")
    config = Config.model_validate(
        {
            "wsgi": {"threads": spec.wsgi_threads},
            "django": {
                "settings": dict(spec.django_settings),
                "database_url": spec.django_database_url,
                "secret_key": spec.django_secret_key,
            },
            "extensions": list(spec.extensions),
        }
    )
    try:
        if is_django_project(spec.folder):
            app, routes = _django_project(spec, executor)
            return HostedApp(app, "django-project", executor, routes=routes)
        return _plugin(spec, config, executor)
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        raise


def _plugin(spec: WorkerSpec, config: Config, executor: ThreadPoolExecutor) -> HostedApp:
    plugin_manager, _ = build_plugin_manager(config.extensions)
    data_dir = spec.workdir  # a Django app plugin's database, a Flask plugin's instance/...
    plugin_manager.hook.gateway_started(gateway=_WorkerView(config, spec.folder.parent, data_dir))
    manifest = read_manifest(spec.folder, spec.name)
    bytecode = BytecodeCache(spec.data_dir / "bytecode")
    package = f"{PACKAGE_PREFIX}{spec.name.replace('-', '_')}_1"
    namespace = Namespace(spec.folder, package, data_dir / "plugins" / spec.name, bytecode)
    services = LoadServices(executor, config, data_dir, bytecode)
    source = PluginSource(spec.name, spec.folder, manifest, namespace, services)
    loaded = load_guarded(source, plugin_manager.hook)
    try:
        described = plugin_manager.hook.gateway_describe_routes(
            app=loaded.app, framework=loaded.framework
        )
    except Exception:  # a description is not worth failing the load over
        described = None
    routes = tuple(described or ())
    return HostedApp(loaded.asgi_app, loaded.framework, executor, loaded.app, routes)


def use_project_settings(spec: WorkerSpec) -> None:
    """Make the Django project of ``spec`` the one ``django.setup()`` configures, as its
    ``manage.py`` would: its folder first on ``sys.path``, its ``settings`` (unless the
    plugin's ``env:`` names another), and ``GATEWAY_DATA_DIR`` for what it writes."""
    folder = str(spec.folder)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    os.environ.setdefault(DATA_DIR_ENV, str(spec.workdir))


def _django_project(
    spec: WorkerSpec, executor: ThreadPoolExecutor
) -> tuple[ASGIApp, tuple[str, ...]]:
    folder = str(spec.folder)
    use_project_settings(spec)
    try:
        import django
        from django.core.handlers.wsgi import WSGIHandler
        from django.urls import get_resolver

        from ..kinds.django import describe_patterns
        from ..kinds.django.migrate import migrate

        django.setup()
        # Under the database's lock: a project's processes start together (processes: N).
        migrate(spec.workdir)
        handler: Any = WSGIHandler()
        routes = tuple(describe_patterns(list(get_resolver().url_patterns)))
    except GatewayError:
        raise
    except (Exception, SystemExit) as exc:
        raise DjangoError(
            f"Django project failed to start: {type(exc).__name__}: {exc}",
            plugin=spec.name,
            file=_failing_file(exc, folder) or spec.folder / "settings.py",
        ) from None
    return WSGIAdapter(handler, executor, name=spec.name), routes


def _failing_file(exc: BaseException, folder: str) -> str | None:
    """The innermost traceback frame in the project's folder, as ``file:line``."""
    where = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename.startswith(folder):
            where = f"{frame.f_code.co_filename}:{lineno}"
    return where
