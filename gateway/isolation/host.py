"""Loading the plugin inside the worker process, with the gateway's own loading code.

A plugin in a worker is loaded exactly as in the gateway (manifest values, requirements
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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import GatewayError, PluginError
from ..manifest import MANIFEST_FILE, Manifest
from ..namespace import PACKAGE_PREFIX, Namespace

if TYPE_CHECKING:
    from ..app import Gateway
    from ..types import ASGIApp
    from .spec import WorkerSpec

#: the environment variable a Django project's settings can read to keep its database (and
#: anything else it writes) out of the plugins folder
DATA_DIR_ENV = "GATEWAY_DATA_DIR"


@dataclass
class HostedApp:
    """The loaded plugin: the ASGI app to serve and what to shut down with the process."""

    app: ASGIApp
    framework: str
    gateway: Gateway


def is_django_project(folder: Path) -> bool:
    return (folder / "settings.py").is_file()


def load(spec: WorkerSpec) -> HostedApp:
    """Load ``spec``'s plugin in this process; raise :class:`PluginError` on failure."""
    gateway = _gateway(spec)
    try:
        if is_django_project(spec.folder):
            return HostedApp(_django_project(spec, gateway), "django-project", gateway)
        return _plugin(spec, gateway)
    except BaseException:
        gateway.executor.shutdown(wait=False, cancel_futures=True)
        raise


def _gateway(spec: WorkerSpec) -> Gateway:
    """A gateway object for the kinds to load into: its thread pool runs WSGI apps, its
    ``cwd`` holds the worker's data (Django's database for a Django app plugin)."""
    from ..app import Gateway
    from ..config import Config

    config = Config.model_validate(
        {
            "wsgi": {"threads": spec.wsgi_threads},
            "django": {"settings": dict(spec.django_settings)},
            "extensions": list(spec.extensions),
        }
    )
    return Gateway(config, cwd=spec.workdir, token="worker")


def _plugin(spec: WorkerSpec, gateway: Gateway) -> HostedApp:
    from ..loader import PluginSource, load_app

    manifest_file = spec.folder / MANIFEST_FILE
    manifest = Manifest(
        framework=spec.framework,
        app=spec.app,
        prefix=spec.prefix,
        enabled=True,
        file=manifest_file if manifest_file.is_file() else None,
    )
    package = f"{PACKAGE_PREFIX}{spec.name.replace('-', '_')}_1"
    source = PluginSource(
        spec.name, spec.folder, manifest, Namespace(spec.folder, package), gateway
    )
    loaded = load_app(source)
    return HostedApp(loaded.asgi_app, loaded.framework, gateway)


def _django_project(spec: WorkerSpec, gateway: Gateway) -> ASGIApp:
    from ..wsgi_adapter import WSGIAdapter

    folder = str(spec.folder)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    os.environ.setdefault(DATA_DIR_ENV, str(spec.workdir))
    try:
        import django
        from django.core.handlers.wsgi import WSGIHandler
        from django.core.management import call_command

        django.setup()
        call_command("migrate", interactive=False, verbosity=0)
        handler: Any = WSGIHandler()
    except GatewayError:
        raise
    except (Exception, SystemExit) as exc:
        raise PluginError(
            f"Django project failed to start: {type(exc).__name__}: {exc}",
            plugin=spec.name,
            file=_failing_file(exc, folder) or spec.folder / "settings.py",
            kind="DjangoError",
        ) from None
    return WSGIAdapter(handler, gateway.executor)


def _failing_file(exc: BaseException, folder: str) -> str | None:
    """The innermost traceback frame in the project's folder, as ``file:line``."""
    import traceback

    where = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename.startswith(folder):
            where = f"{frame.f_code.co_filename}:{lineno}"
    return where
