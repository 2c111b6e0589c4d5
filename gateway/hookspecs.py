"""The gateway's extension points, as pluggy hook specifications.

Every framework kind the gateway knows (ASGI, WSGI, functions, Django) is a pluggy plugin
implementing these hooks; a package adds another kind (Quart, Litestar, ...) by registering a
plugin under the ``gateway`` entry-point group, or through a module named in ``config.yaml``
``extensions: [...]``. Implement hooks with :data:`gateway.hookimpl`.

A plugin folder is turned into something mountable in three steps, each a hook:

1. *recognise*: if the manifest names no framework, ``gateway_recognise_folder`` (before
   importing anything) and then ``gateway_recognise_app`` (on the imported ``app`` object)
   name it;
2. *load*: ``gateway_load_app`` imports the plugin's code and returns its app object;
3. *adapt*: ``gateway_adapt_app`` turns that object into the ASGI app that is mounted.

Errors a hook raises should be :class:`gateway.PluginError`; anything else is reported as the
plugin's error too, with its type, and never stops the gateway.

Then ``gateway_wrap_app`` may wrap the adapted app in middleware before it is mounted, and
the lifecycle hooks tell extensions what happened.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pluggy

if TYPE_CHECKING:
    from .config import Config
    from .loader import PluginSource
    from .plugin import PluginInfo
    from .types import ASGIApp

PROJECT = "gateway"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class GatewayView(Protocol):
    """What the lifecycle hooks' ``gateway`` argument offers an extension."""

    @property
    def config(self) -> Config: ...
    @property
    def plugins_dir(self) -> Path: ...
    @property
    def data_dir(self) -> Path: ...
    def plugins(self) -> list[PluginInfo]:
        """Every plugin of the gateway, as the admin API shows them."""
        ...


@hookspec
def gateway_frameworks() -> list[str]:  # type: ignore[empty-body]
    """Return the framework names this kind handles, as written in ``plugin.yaml``.

    A manifest naming a framework no kind returns is refused as an unknown framework.
    """


@hookspec(firstresult=True)
def gateway_recognise_folder(folder: Path) -> str | None:
    """Name the framework of a plugin folder whose manifest names none, or return ``None``.

    Called only when the folder has no ``app.py`` (which is recognised from its object by
    :func:`gateway_recognise_app`). Must not import the plugin's code.
    """


@hookspec(firstresult=True)
def gateway_recognise_app(app: object) -> str | None:
    """Name the framework of an imported ``app`` object, or return ``None`` if not yours.

    Called when the manifest names no framework and the plugin has an ``app.py`` (or a
    manifest ``app``). ``app`` is the imported object; when ``app.py`` defines no ``app``, it
    is the module itself (the functions kind recognises a module of ``@endpoint`` functions).
    """


@hookspec(firstresult=True)
def gateway_load_app(source: PluginSource, framework: str) -> object | None:
    """Import the plugin's code and return its application object, or ``None`` if
    ``framework`` is not one of yours.

    Import through ``source.import_object`` / ``source.import_module`` so the plugin gets its
    own module namespace (relative imports, one namespace per version).
    """


@hookspec(firstresult=True)
def gateway_adapt_app(app: object, framework: str, source: PluginSource) -> ASGIApp | None:
    """Return the ASGI application to mount for ``app``, or ``None`` if not yours.

    This is where a WSGI app is wrapped (on the gateway's shared thread pool,
    ``source.executor``) and where an object that is not an app of the declared framework is
    refused with a :class:`gateway.PluginError`.
    """


@hookspec
def gateway_wrap_app(app: ASGIApp, plugin: PluginInfo) -> ASGIApp | None:
    """Wrap the ASGI app a plugin version is mounted with in middleware, or return ``None``
    to leave it as it is.

    Called once per loaded version (not per request), before it takes traffic; ``plugin``
    describes that version (its ``name``, ``generation``, ``framework``). Each extension's
    result is handed to the next as ``app``: the implementation pluggy calls first wraps
    innermost. Mark an implementation ``trylast=True`` to wrap outermost, as the gateway's own
    request instrumentation (request ids, metrics, access log) does. Authentication, CORS and
    rate limits fit here, for every plugin or the ones an extension picks by name.
    """


@hookspec(firstresult=True)
def gateway_describe_routes(app: object, framework: str) -> list[str] | None:
    """Return the routes of a loaded ``app`` as lines such as ``"GET /items/{id}"`` (shown by
    ``gateway check``), or ``None`` if ``framework`` is not yours."""


@hookspec
def gateway_started(gateway: GatewayView) -> None:
    """The gateway has started, before the first scan of the plugins folder.

    An extension that needs something for the gateway's whole life sets it up here.
    """


@hookspec
def gateway_stopped(gateway: GatewayView) -> None:
    """The gateway is stopping: every plugin has been unloaded."""


@hookspec
def gateway_plugin_loaded(plugin: PluginInfo, gateway: GatewayView) -> None:
    """A version of a plugin was loaded and now takes traffic (``plugin.generation``)."""


@hookspec
def gateway_plugin_failed(plugin: PluginInfo, gateway: GatewayView) -> None:
    """Loading a plugin failed (``plugin.error``); an older version may still serve."""


@hookspec
def gateway_plugin_unloaded(plugin: PluginInfo, gateway: GatewayView) -> None:
    """A plugin was removed or disabled, drained and shut down."""


@hookspec
def gateway_plugin_restarting(plugin: PluginInfo, gateway: GatewayView) -> None:
    """A worker process of an isolated plugin died and is being restarted (``plugin.status``
    is ``restarting`` and ``plugin.restarts`` counts it); the other processes, if any,
    serve meanwhile."""


@hookspec
def gateway_plugin_recovered(plugin: PluginInfo, gateway: GatewayView) -> None:
    """Every worker process of an isolated plugin serves again after a restart."""
