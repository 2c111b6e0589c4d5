"""Every use of another library's private or undocumented API, in one place.

The gateway does things its libraries were not written for (several Django apps registered
and replaced at run time in one process, Flask apps whose package is a per-version synthetic
module). Each function below says what it relies on, links the upstream code or issue, and
names the versions it was checked against; ``tests/test_compat.py`` fails if an installed
version no longer has what it relies on, so an upgrade breaks CI rather than production.

Checked against: Django 5.2.19, Flask 3.1.3, prometheus_client 0.26.0; uvicorn 0.54.0 for the
subclasses of its protocol and supervisor in :mod:`gateway.containment`.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import types
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.apps import AppConfig

#: versions the private uses below were checked against, by distribution name
CHECKED_AGAINST = {
    "django": "5.2",
    "flask": "3.1",
    "prometheus_client": "0.26",
    # not used here: the door (gateway/containment/protocol.py) subclasses uvicorn's httptools
    # protocol and the worker supervisor (gateway/containment/signals.py) its Multiprocess
    "uvicorn": "0.54",
}


# --- Django's app registry ------------------------------------------------------------------
# Django builds ``apps.app_configs`` once, in ``Apps.populate()``, from INSTALLED_APPS; there
# is no public API to add or replace an app afterwards (ticket #22246, wontfix). The gateway
# registers each Django plugin the way ``populate()`` does, one app at a time:
# https://github.com/django/django/blob/stable/5.2.x/django/apps/registry.py


def django_register_app(label: str, name: str, module: types.ModuleType, path: str) -> AppConfig:
    """Register (or replace) the app ``label`` whose package is ``module``, and import its
    models, as ``Apps.populate()`` does for an INSTALLED_APPS entry."""
    from django.apps import AppConfig, apps

    config = AppConfig(name, module)
    config.label = label
    config.path = path
    config.apps = apps
    config.models = apps.all_models[label]  # what import_models() would set
    apps.app_configs[label] = config
    apps.clear_cache()
    return config


def django_app_config(label: str) -> AppConfig | None:
    """The registered app ``label``, or None (without the LookupError of get_app_config)."""
    from django.apps import apps

    config: AppConfig | None = apps.app_configs.get(label)
    return config


def django_restore_app(label: str, config: AppConfig | None) -> None:
    """Put back ``config`` as app ``label`` (None: no such app any more)."""
    from django.apps import apps

    if config is None:
        apps.app_configs.pop(label, None)
    else:
        apps.app_configs[label] = config
    apps.clear_cache()


def django_forget_models(label: str) -> None:
    """Forget the models registered for app ``label`` (a version that failed before its
    models were kept), so the next version's module can register classes of the same names
    without Django's "Conflicting models" error. ``Apps.all_models`` is what
    ``register_model()`` fills; Django has no public way to unregister."""
    from django.apps import apps

    apps.all_models.pop(label, None)
    apps.clear_cache()


# --- Django admin's registry ----------------------------------------------------------------
# ``AdminSite._registry`` maps models to ModelAdmins; unregister() exists, but reading which
# models an app registered and putting them back after a failed reload needs the dict:
# https://github.com/django/django/blob/stable/5.2.x/django/contrib/admin/sites.py


def django_admin_entries(label: str) -> dict[Any, Any]:
    """The admin registrations of app ``label``'s models."""
    from django.contrib import admin

    registry: dict[Any, Any] = admin.site._registry
    return {model: ma for model, ma in registry.items() if model._meta.app_label == label}


def django_restore_admin(label: str, entries: dict[Any, Any]) -> None:
    """Make app ``label``'s admin registrations exactly ``entries``."""
    from django.contrib import admin

    registry: dict[Any, Any] = admin.site._registry
    for model in [m for m in registry if m._meta.app_label == label]:
        del registry[model]
    registry.update(entries)


# --- Django's caches of templates and static files ------------------------------------------
# Template engines (``EngineHandler._engines`` and its cached ``templates``), the app template
# directories and the static file finders are computed once per process, from the apps known
# then; after an app is added or replaced they must be computed again:
# https://github.com/django/django/blob/stable/5.2.x/django/template/utils.py
# https://github.com/django/django/blob/stable/5.2.x/django/contrib/staticfiles/finders.py


def django_reset_caches() -> None:
    """Forget URL resolvers, template engines and static file finders built from older apps."""
    from django.contrib.staticfiles.finders import get_finder
    from django.template import engines
    from django.template.utils import get_app_template_dirs
    from django.urls import clear_url_caches

    clear_url_caches()
    get_finder.cache_clear()
    get_app_template_dirs.cache_clear()
    engines._engines = {}
    engines.__dict__.pop("templates", None)


# --- Flask's instance folder ----------------------------------------------------------------
# Flask puts ``instance/`` next to the app's package (``Flask.auto_find_instance_path``, which
# the Flask docs name as the method to override). A plugin's package is its folder, so that
# would be inside the plugins folder, shared by every Flask plugin, and seen as a plugin.
# The gateway overrides it for plugin apps only, once ``flask`` is imported:
# https://github.com/pallets/flask/blob/3.1.x/src/flask/app.py (auto_find_instance_path)


def install_flask_instance_paths(folder_of: Callable[[str], str | None]) -> None:
    """Make Flask apps whose ``import_name`` ``folder_of`` knows keep ``instance/`` there.

    Installed once per process; applied when ``flask.app`` is first imported (or now, if it
    already is), so a process that serves no Flask plugin never imports Flask for it.
    """

    def patch(flask_app_module: types.ModuleType) -> None:
        flask_class = flask_app_module.Flask
        original = flask_class.auto_find_instance_path
        if getattr(original, "_gateway_patched", False):
            return

        def auto_find_instance_path(self: Any) -> str:
            folder = folder_of(self.import_name)
            return os.path.join(folder, "instance") if folder else str(original(self))

        auto_find_instance_path._gateway_patched = True  # type: ignore[attr-defined]
        flask_class.auto_find_instance_path = auto_find_instance_path

    if "flask.app" in sys.modules:
        patch(sys.modules["flask.app"])
    elif not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport("flask.app", patch))


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls ``callback(module)`` right after ``module_name`` is first imported (a
    post-import hook, as PEP 369 proposed); after that it answers nothing."""

    def __init__(self, module_name: str, callback: Callable[[types.ModuleType], None]) -> None:
        self.module_name = module_name
        self.callback = callback
        self.done = False

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if self.done or fullname != self.module_name:
            return None
        self.done = True
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _CallbackLoader(spec.loader, self.callback)
        return spec


class _CallbackLoader(importlib.abc.Loader):
    """A module's own loader, calling back once the module has run."""

    def __init__(
        self, loader: importlib.abc.Loader, callback: Callable[[types.ModuleType], None]
    ) -> None:
        self._loader = loader
        self._callback = callback

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename, ... as the original
        return getattr(self._loader, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        self._loader.exec_module(module)
        self._callback(module)


# --- prometheus_client's histogram ----------------------------------------------------------
# ``Histogram.observe()`` takes one observation; the gateway counts its requests itself and
# adds them in batches (see gateway.observability.metrics), for which there is no public API.
# A child keeps a value per bucket (not cumulative) in ``_buckets`` and the sum in ``_sum``:
# https://github.com/prometheus/client_python/blob/master/prometheus_client/metrics.py
# (checked against prometheus_client 0.26)


def prometheus_histogram_add(child: Any, buckets: Sequence[int], total: float) -> None:
    """Add ``buckets[i]`` observations to bucket ``i`` and ``total`` to the sum of a
    labelled ``Histogram`` child, as that many ``observe()`` calls would."""
    for value, count in zip(child._buckets, buckets, strict=True):
        if count:
            value.inc(count)
    child._sum.inc(total)
