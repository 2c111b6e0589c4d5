"""The gateway's one Django runtime per process, and the registration of Django plugins
into it.

Django allows one settings module and one app registry per process. The gateway owns the
settings (:mod:`.settings`) and adds each Django plugin to the registry as an app whose
label is the plugin name. A new version of a plugin replaces its ``AppConfig``, URLconf and
admin registrations in place; its models cannot be replaced in a running process, so a
version whose models or migrations changed is refused with :class:`RestartRequired` while
the old one keeps serving.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
import types
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import PluginError, RestartRequired
from ...loader import PluginSource
from .migrate import migrate
from .settings import DATA_DIR, default_settings

if TYPE_CHECKING:
    from django.core.handlers.wsgi import WSGIHandler

    from ...app import Gateway

logger = logging.getLogger(__name__)

#: the WSGI environ key a plugin's app puts its URLconf under (read by the middleware)
URLCONF_KEY = "gateway.django.urlconf"

BUILTIN_LABELS = frozenset({"admin", "auth", "contenttypes", "sessions", "messages", "staticfiles"})


@dataclass
class ModelsRecord:
    """The models a label was first registered with: they stay for the process's life."""

    digest: str
    module: types.ModuleType | None


class DjangoApp:
    """The WSGI app of one Django plugin version: Django's handler, with its URLconf."""

    def __init__(self, handler: WSGIHandler, urlconf: types.ModuleType, label: str) -> None:
        self.handler = handler
        self.urlconf = urlconf
        self.label = label

    def __repr__(self) -> str:
        return f"DjangoApp({self.label!r})"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ[URLCONF_KEY] = self.urlconf
        return self.handler(environ, start_response)


def app_label(name: str) -> str:
    """Django app labels are identifiers: ``blog-app`` becomes ``blog_app``."""
    return name.replace("-", "_")


def models_digest(folder: Path) -> str:
    """A hash of what Django cannot reload: ``models.py`` / ``models/`` and ``migrations/``."""
    files = [folder / "models.py", *sorted((folder / "models").rglob("*.py"))]
    files += sorted((folder / "migrations").rglob("*.py"))
    digest = hashlib.sha256()
    for file in files:
        if file.is_file() and "__pycache__" not in file.parts:
            digest.update(str(file.relative_to(folder)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


class DjangoRuntime:
    """Django's settings, app registry and handler, shared by every Django plugin."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.data_dir = gateway.cwd / DATA_DIR
        self.handler: WSGIHandler | None = None
        self._models: dict[str, ModelsRecord] = {}
        self._lock = threading.Lock()
        # The URLconfs of live versions: each mounts the admin, whose URL patterns list the
        # apps registered when they were built, so they are rebuilt whenever that changes.
        self._urlconfs: weakref.WeakSet[types.ModuleType] = weakref.WeakSet()

    def __repr__(self) -> str:
        return f"DjangoRuntime(data_dir={str(self.data_dir)!r}, labels={sorted(self._models)})"

    @classmethod
    def of(cls, gateway: Gateway) -> DjangoRuntime:
        runtime = gateway.runtimes.get("django")
        if runtime is None:
            runtime = gateway.runtimes["django"] = cls(gateway)
        assert isinstance(runtime, DjangoRuntime)
        return runtime

    def ensure_setup(self) -> WSGIHandler:
        """Configure settings, ``django.setup()`` and migrate the built-in apps, once."""
        with self._lock:
            if self.handler is None:
                self.handler = self._setup()
            return self.handler

    def _setup(self) -> WSGIHandler:
        import django
        from django.conf import settings
        from django.core.handlers.wsgi import WSGIHandler

        if not settings.configured:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            overrides = self.gateway.config.django.settings
            django_config = self.gateway.config.django
            settings.configure(**{**default_settings(self.data_dir, django_config), **overrides})
            django.setup()
            migrate(self.data_dir)
            logger.info("Django %s runtime ready (data in %s)", django.get_version(), self.data_dir)
        return WSGIHandler()

    def load(self, source: PluginSource) -> DjangoApp:
        """Register ``source`` as a Django app and build its URLconf; all or nothing."""
        from django.apps import apps
        from django.contrib import admin

        handler = self.ensure_setup()
        label = app_label(source.name)
        if label in BUILTIN_LABELS:
            raise PluginError(
                f"the plugin name {source.name!r} is the label of Django's own "
                f"'django.contrib.{label}' app; choose another folder name",
                plugin=source.name,
                file=source.folder,
                kind="DjangoError",
            )
        with self._lock:
            digest = models_digest(source.folder)
            prior = self._models.get(label)
            if prior is not None and prior.digest != digest:
                raise RestartRequired(
                    "models.py or migrations/ changed: Django cannot replace models in a "
                    "running process, so the previous version keeps serving. Add a migration "
                    "for the change to migrations/ and restart the gateway: it loads this "
                    "version and applies its migrations at start-up",
                    plugin=source.name,
                    file=source.folder / "models.py",
                )
            if prior is not None and prior.module is not None:
                # Unchanged models: the new version uses the classes already registered.
                sys.modules[f"{source.namespace.package}.models"] = prior.module
            previous_config = apps.app_configs.get(label)
            previous_admin = {
                model: model_admin
                for model, model_admin in admin.site._registry.items()
                if model._meta.app_label == label
            }
            try:
                self._register_app(source, label)
                if prior is None:
                    config = apps.get_app_config(label)
                    self._models[label] = ModelsRecord(digest, config.models_module)
                urlconf = self._build(source, label, previous_admin)
            except BaseException:
                self._restore(label, previous_config, previous_admin)
                raise
            self._urlconfs.add(urlconf)
            self._refresh_admin_urls()
            self.reset_caches()
        return DjangoApp(handler, urlconf, label)

    def _register_app(self, source: PluginSource, label: str) -> None:
        from django.apps import AppConfig, apps

        module = source.namespace.module
        assert module is not None
        config = AppConfig(source.namespace.package, module)
        config.label = label
        config.path = str(source.folder)
        config.verbose_name = source.name
        config.apps = apps
        config.models = apps.all_models[label]  # what import_models() would set
        apps.app_configs[label] = config
        apps.clear_cache()
        if (source.folder / "models.py").is_file() or (source.folder / "models").is_dir():
            source.import_module("models")  # the plugin's errors, with file and line
        config.import_models()

    def _build(
        self, source: PluginSource, label: str, previous_admin: dict[Any, Any]
    ) -> types.ModuleType:
        from django.contrib import admin

        for model in previous_admin:
            admin.site.unregister(model)
        if (source.folder / "admin.py").is_file():
            source.import_module("admin")
        urls = source.import_module("urls")
        if (source.folder / "migrations").is_dir():
            migrate(self.data_dir, label)
        return build_urlconf(source, urls)

    def _restore(self, label: str, config: Any, admin_entries: dict[Any, Any]) -> None:
        from django.apps import apps
        from django.contrib import admin

        if config is None:
            apps.app_configs.pop(label, None)
        else:
            apps.app_configs[label] = config
        for model in [m for m in admin.site._registry if m._meta.app_label == label]:
            admin.site.unregister(model)
        admin.site._registry.update(admin_entries)
        apps.clear_cache()

    def unload(self, name: str) -> None:
        """The plugin is gone: take its app and admin entries out (its models stay known)."""
        if self.handler is None:
            return
        with self._lock:
            self._restore(app_label(name), None, {})
            self._refresh_admin_urls()
            self.reset_caches()

    def _refresh_admin_urls(self) -> None:
        from django.contrib import admin
        from django.urls import URLResolver, path

        urls = admin.site.urls
        for urlconf in list(self._urlconfs):
            patterns = urlconf.urlpatterns
            for i, pattern in enumerate(patterns):
                if isinstance(pattern, URLResolver) and pattern.app_name == "admin":
                    patterns[i] = path(str(pattern.pattern), urls)  # one atomic assignment

    def reset_caches(self) -> None:
        """Forget resolvers, templates and static-file finders built from older versions."""
        from django.contrib.staticfiles.finders import get_finder
        from django.template import engines
        from django.template.utils import get_app_template_dirs
        from django.urls import clear_url_caches

        clear_url_caches()
        get_finder.cache_clear()
        get_app_template_dirs.cache_clear()
        engines._engines = {}
        engines.__dict__.pop("templates", None)


def build_urlconf(source: PluginSource, urls: types.ModuleType) -> types.ModuleType:
    """The plugin's URLconf: its ``urlpatterns``, plus the admin (unless it mounts it) at
    ``admin/`` and static files at ``static/``, all under the plugin's prefix."""
    from django.contrib import admin
    from django.contrib.staticfiles.views import serve
    from django.urls import include, path, re_path

    patterns = getattr(urls, "urlpatterns", None)
    if patterns is None:
        raise PluginError(
            "urls.py defines no 'urlpatterns'",
            plugin=source.name,
            file=source.folder / "urls.py",
            kind="DjangoError",
        )
    patterns = list(patterns)
    app_name = getattr(urls, "app_name", None)
    if app_name:
        patterns = [path("", include((patterns, app_name), namespace=app_name))]
    if not any(getattr(p, "namespace", None) == "admin" for p in patterns):
        patterns.append(path("admin/", admin.site.urls))
    # DEBUG is off, so the static view needs insecure=True; it finds files through the
    # staticfiles finders (the admin's CSS, each plugin's static/).
    patterns.append(re_path(r"^static/(?P<path>.*)$", serve, {"insecure": True}))
    urlconf = types.ModuleType(f"{source.namespace.package}.urls_gateway")
    urlconf.urlpatterns = patterns  # type: ignore[attr-defined]
    for handler in ("handler400", "handler403", "handler404", "handler500"):
        if hasattr(urls, handler):
            setattr(urlconf, handler, getattr(urls, handler))
    return urlconf
