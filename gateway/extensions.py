"""The pluggy plugin manager: the built-in framework kinds plus any extensions.

Extensions come from the ``gateway`` entry-point group and from ``config.yaml``
``extensions: [module, ...]``. A broken extension is reported with its name and left out; it
never takes the gateway down.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import logging
from collections.abc import Callable, Iterable
from importlib import metadata
from typing import cast

import pluggy

from . import hookspecs
from .errors import ExtensionError
from .kinds import BUILTIN_KINDS
from .plugin import PluginInfo
from .types import ASGIApp

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "gateway"


def build_plugin_manager(
    extensions: Iterable[str] = (),
    *,
    entry_points: bool = True,
    builtins: Iterable[tuple[object, str]] = (),
) -> tuple[pluggy.PluginManager, list[ExtensionError]]:
    """A plugin manager with the built-in kinds and the extensions that loaded.

    ``builtins`` are the gateway's own hook implementations besides the kinds, as (object,
    name): its request instrumentation (:mod:`gateway.observability.hooks`). They are
    registered before any extension, so that among ``trylast`` wrappers of
    ``gateway_wrap_app`` theirs is the outermost (pluggy calls older ones later).

    Returns the manager and the errors of extensions that did not load (already logged).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for kind in BUILTIN_KINDS:
        pm.register(kind, name=f"gateway.kinds.{kind.__name__.rsplit('.', 1)[-1]}")
    for plugin, name in builtins:
        pm.register(plugin, name=name)
    errors: list[ExtensionError] = []
    if entry_points:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            _register(pm, ep.name, ep.load, errors)
    for module_name in extensions:
        _register(pm, module_name, functools.partial(importlib.import_module, module_name), errors)
    for error in errors:
        logger.error("%s", error)
    return pm, errors


def _register(
    pm: pluggy.PluginManager,
    name: str,
    load: Callable[[], object],
    errors: list[ExtensionError],
) -> None:
    try:
        plugin = load()
        if pm.is_registered(plugin) or pm.has_plugin(name):
            return
        pm.register(plugin, name=name)
    except Exception as exc:  # an extension must not take the gateway down
        errors.append(ExtensionError(f"{type(exc).__name__}: {exc}", extension=name))
        return
    try:
        # A hook named like ours but absent from the spec is a typo: refuse it now, loudly.
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        unknown = _unknown_hooks(pm, plugin)
        pm.unregister(plugin)
        errors.append(ExtensionError(unknown or str(exc), extension=name))
        return
    try:
        _check_frameworks(plugin)
    except Exception as exc:
        pm.unregister(plugin)
        errors.append(
            ExtensionError(
                f"gateway_frameworks() failed: {type(exc).__name__}: {exc}", extension=name
            )
        )


def _unknown_hooks(pm: pluggy.PluginManager, plugin: object) -> str:
    """``"unknown hook 'gateway_load_ap' (did you mean 'gateway_load_app'?)"``, or ``""``."""
    known = [name for name, caller in vars(pm.hook).items() if getattr(caller, "spec", None)]
    problems = []
    for attr in dir(plugin):
        if attr in known or pm.parse_hookimpl_opts(plugin, attr) is None:
            continue
        close = difflib.get_close_matches(attr, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(f"unknown hook {attr!r}{hint}")
    return "; ".join(problems)


def _check_frameworks(plugin: object) -> None:
    """Call the extension's ``gateway_frameworks`` once: every load asks all kinds for their
    frameworks, so one that raises or answers nonsense would fail every plugin."""
    impl = getattr(plugin, "gateway_frameworks", None)
    if impl is None:
        return
    names = impl()
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"it must return a list of framework names, got {names!r}")


def wrap_app(hooks: pluggy.HookRelay, app: ASGIApp, plugin: PluginInfo) -> ASGIApp:
    """``app`` wrapped by every ``gateway_wrap_app`` implementation, chained.

    pluggy calls a hook's implementations and collects their results; wrapping needs each one
    to receive the previous one's result, so the implementations are called one by one, in
    pluggy's own call order (``tryfirst`` first, ``trylast`` last, else newest first). An
    extension that fails here fails the plugin's load like a kind would.
    """
    for impl in reversed(hooks.gateway_wrap_app.get_hookimpls()):
        wrapped = cast("ASGIApp | None", impl.function(app=app, plugin=plugin))
        if wrapped is not None:
            app = wrapped
    return app
