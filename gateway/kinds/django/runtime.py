"""The one Django runtime of the process, and the registration of Django plugins into it.

Django allows one settings module and one app registry per process. The gateway owns the
settings (:mod:`.settings`) and adds each Django plugin to the registry as an app whose
label is the plugin name. A new version of a plugin replaces its ``AppConfig``, URLconf and
admin registrations in place; its models cannot be replaced in a running process, so a
version whose models or migrations changed is refused with :class:`RestartRequired` while
the old one keeps serving.

The runtime is deliberately process-wide (:meth:`DjangoRuntime.for_process`), because
Django's own state is: a second gateway in the same process shares it when its Django
configuration is the same, and is refused with a clear error when it differs, instead of
silently running on the first one's settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import threading
import types
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ... import compat
from ...config import DjangoConfig
from ...errors import DjangoError, DjangoSettingsError, MigrationsMissing, RestartRequired
from ...loader import LoadServices, PluginSource
from .migrate import migrate
from .settings import default_settings

if TYPE_CHECKING:
    from django.apps import AppConfig
    from django.core.handlers.wsgi import WSGIHandler

logger = logging.getLogger(__name__)

#: the WSGI environ key a plugin's app puts its URLconf under (read by the middleware)
URLCONF_KEY = "gateway.django.urlconf"

BUILTIN_LABELS = frozenset({"admin", "auth", "contenttypes", "sessions", "messages", "staticfiles"})


@dataclass
class ModelsRecord:
    """The models a label was first registered with: they stay for the process's life."""

    digest: str
    module: types.ModuleType | None


@dataclass
class Registration:
    """One version's registration of its label: what to put back if it is released while
    the previous one still serves."""

    package: str
    config: AppConfig
    admin: dict[Any, Any] = field(default_factory=dict)


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

    _process: ClassVar[DjangoRuntime | None] = None
    _process_lock: ClassVar[threading.Lock] = threading.Lock()
    #: refuse a plugin whose models and migrations disagree (off only in ``gateway manage``,
    #: which loads it precisely to make the missing migration)
    check_migrations: ClassVar[bool] = True

    def __init__(self, data_dir: Path, django: DjangoConfig) -> None:
        self.data_dir = data_dir
        self.django = django
        self.handler: WSGIHandler | None = None
        self._models: dict[str, ModelsRecord] = {}
        self._registrations: dict[str, list[Registration]] = {}
        self._lock = threading.Lock()
        # The URLconfs of live versions: each mounts the admin, whose URL patterns list the
        # apps registered when they were built, so they are rebuilt whenever that changes.
        self._urlconfs: weakref.WeakSet[types.ModuleType] = weakref.WeakSet()

    def __repr__(self) -> str:
        return f"DjangoRuntime(data_dir={str(self.data_dir)!r}, labels={sorted(self._models)})"

    @classmethod
    def for_process(cls, services: LoadServices, plugin: str) -> DjangoRuntime:
        """The process's runtime, created on first use with ``services``' Django settings."""
        data_dir, django = services.data_dir, services.config.django
        with cls._process_lock:
            runtime = cls._process
            if runtime is None:
                runtime = cls._process = cls(data_dir, django)
            elif (runtime.data_dir, _canonical(runtime.django)) != (data_dir, _canonical(django)):
                raise DjangoSettingsError(
                    "Django allows one settings module per process, and this process's Django "
                    f"runtime was configured by another gateway (data folder "
                    f"{runtime.data_dir}) with other settings than this one's (data folder "
                    f"{data_dir}); run this gateway in a process of its own",
                    plugin=plugin,
                )
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
            defaults = default_settings(self.data_dir, self.django)
            settings.configure(**{**defaults, **self.django.settings})
            django.setup()
            migrate(self.data_dir)
            logger.info("Django %s runtime ready (data in %s)", django.get_version(), self.data_dir)
        return WSGIHandler()

    def load(self, source: PluginSource) -> DjangoApp:
        """Register ``source`` as a Django app and build its URLconf; all or nothing."""
        handler = self.ensure_setup()
        label = app_label(source.name)
        if label in BUILTIN_LABELS:
            raise DjangoError(
                f"the plugin name {source.name!r} is the label of Django's own "
                f"'django.contrib.{label}' app; choose another folder name",
                plugin=source.name,
                file=source.folder,
            )
        with self._lock:
            digest = models_digest(source.folder)
            prior = self._models.get(label)
            if prior is not None and prior.digest != digest:
                raise RestartRequired(
                    "models.py or migrations/ changed: Django cannot replace models in a "
                    "running process, so the previous version keeps serving. Add a migration "
                    f"for the change to migrations/ (gateway manage {source.name} "
                    "makemigrations) and restart the gateway: it loads this version and "
                    "applies its migrations at start-up",
                    plugin=source.name,
                    file=source.folder / "models.py",
                )
            if prior is not None and prior.module is not None:
                # Unchanged models: the new version uses the classes already registered.
                sys.modules[f"{source.namespace.package}.models"] = prior.module
            previous_config = compat.django_app_config(label)
            previous_admin = compat.django_admin_entries(label)
            kept = prior is not None
            try:
                config = self._register_app(source, label)
                if prior is None:
                    if self.check_migrations:
                        check_migrations(source, label)
                    self._keep_models(label, ModelsRecord(digest, config.models_module))
                    kept = True
                urlconf = self._build(source, label, previous_admin)
            except BaseException:
                compat.django_restore_app(label, previous_config)
                compat.django_restore_admin(label, previous_admin)
                if not kept:  # so that the next version may register its models afresh
                    compat.django_forget_models(label)
                raise
            package = source.namespace.package
            registration = Registration(package, config, compat.django_admin_entries(label))
            self._registrations.setdefault(label, []).append(registration)
            self._urlconfs.add(urlconf)
            self._refresh()
        source.on_release(lambda: self.release(label, package))
        return DjangoApp(handler, urlconf, label)

    def _keep_models(self, label: str, record: ModelsRecord) -> None:
        """Keep ``label``'s models for the process's life (Django cannot forget them).

        The module also stays in ``sys.modules`` under a name of its own: a released
        version's modules are emptied unless still imported elsewhere, and a plugin removed
        and added again must find its model classes whole.
        """
        self._models[label] = record
        if record.module is not None:
            sys.modules[f"{__name__}.kept_models.{label}"] = record.module

    def _register_app(self, source: PluginSource, label: str) -> AppConfig:
        module = source.namespace.module
        assert module is not None
        config = compat.django_register_app(
            label, source.namespace.package, module, str(source.folder)
        )
        config.verbose_name = source.name
        if (source.folder / "models.py").is_file() or (source.folder / "models").is_dir():
            source.import_module("models")  # the plugin's errors, with file and line
        config.import_models()
        return config

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

    def release(self, label: str, package: str) -> None:
        """A version of ``label`` is released: if it is the registered one, put back the one
        before it (a failed reload) or take the app out (the plugin is gone). Its models
        stay known: Django cannot forget them."""
        with self._lock:
            registrations = self._registrations.get(label, [])
            index = next((i for i, r in enumerate(registrations) if r.package == package), None)
            if index is None:
                return
            was_current = index == len(registrations) - 1
            del registrations[index]
            if not was_current:
                return  # replaced by a newer version, which stays registered
            if registrations:
                compat.django_restore_app(label, registrations[-1].config)
                compat.django_restore_admin(label, registrations[-1].admin)
            else:
                del self._registrations[label]
                compat.django_restore_app(label, None)
                compat.django_restore_admin(label, {})
            self._refresh()

    def _refresh(self) -> None:
        """Rebuild the admin's URL patterns and forget what was built from older apps."""
        from django.contrib import admin
        from django.urls import URLResolver, path

        urls = admin.site.urls
        for urlconf in list(self._urlconfs):
            patterns = urlconf.urlpatterns
            for i, pattern in enumerate(patterns):
                if isinstance(pattern, URLResolver) and pattern.app_name == "admin":
                    patterns[i] = path(str(pattern.pattern), urls)  # one atomic assignment
        compat.django_reset_caches()


def check_migrations(source: PluginSource, label: str) -> None:
    """Raise :class:`MigrationsMissing` if ``label``'s models differ from what its migrations
    build in a way the database sees, as ``makemigrations --check --dry-run <label>`` would
    find: served, such a plugin would answer 500s on the missing tables or columns.

    Differences the database does not see (a field's ``verbose_name`` or ``help_text``,
    ``Meta.ordering``: Django's own ``Field.non_db_attrs`` and model options) are left out:
    a hand-written migration without ``verbose_name="ID"`` serves fine."""
    from django.apps import apps
    from django.db.migrations.autodetector import MigrationAutodetector
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.questioner import NonInteractiveMigrationQuestioner
    from django.db.migrations.state import ProjectState

    loader = MigrationLoader(None, ignore_no_migrations=True)
    questioner = NonInteractiveMigrationQuestioner(specified_apps={label}, dry_run=True)
    detector = MigrationAutodetector(
        loader.project_state(), ProjectState.from_apps(apps), questioner
    )
    state = loader.project_state()
    changes = detector.changes(graph=loader.graph, trim_to_apps={label}, convert_apps={label})
    operations = [
        op.describe()
        for m in changes.get(label, [])
        for op in m.operations
        if _changes_schema(op, state, label)
    ]
    if operations:
        shown = "; ".join(operations[:5]) + ("; ..." if len(operations) > 5 else "")
        raise MigrationsMissing(
            f"the models have changes that no migration in migrations/ makes ({shown}); "
            f"make one with: gateway manage {source.name} makemigrations",
            plugin=source.name,
            file=source.folder / "models.py",
        )


def _changes_schema(operation: Any, state: Any, label: str) -> bool:
    """Whether a migration operation changes what the database holds."""
    from django.db.migrations import operations

    if isinstance(operation, operations.AlterModelOptions | operations.AlterModelManagers):
        return False
    if not isinstance(operation, operations.AlterField):
        return True
    model = state.models.get((label, operation.model_name_lower))
    old = model.fields.get(operation.name) if model is not None else None
    if old is None:
        return True

    def for_database(field: Any) -> tuple[str, dict[str, Any]]:
        # db_column is among non_db_attrs, yet it names the column (the schema editor
        # compares the column apart): it counts.
        _, path, _, kwargs = field.deconstruct()
        ignored = set(field.non_db_attrs) - {"db_column"}
        return path, {k: v for k, v in kwargs.items() if k not in ignored}

    return bool(for_database(old) != for_database(operation.field))


def _canonical(django: DjangoConfig) -> str:
    """The Django configuration, comparable (secrets included, never shown)."""
    return json.dumps(django.model_dump(mode="json"), sort_keys=True, default=repr)


def build_urlconf(source: PluginSource, urls: types.ModuleType) -> types.ModuleType:
    """The plugin's URLconf: its ``urlpatterns``, plus the admin (unless it mounts it) at
    ``admin/`` and static files at ``static/``, all under the plugin's prefix."""
    from django.contrib import admin
    from django.contrib.staticfiles.views import serve
    from django.urls import include, path, re_path

    patterns = getattr(urls, "urlpatterns", None)
    if patterns is None:
        raise DjangoError(
            "urls.py defines no 'urlpatterns'", plugin=source.name, file=source.folder / "urls.py"
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
