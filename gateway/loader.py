"""Turning a plugin folder into a mountable ASGI app: manifest, requirements, framework,
import in its own namespace, adapt.

This module does the synchronous part of a load (it runs off the event loop); starting the
app's lifespan and swapping it into the route table is the registry's job. The framework
kinds see a load through :class:`PluginSource`: the plugin's folder, manifest and namespace,
and the few :class:`LoadServices` the gateway lends them, never the gateway itself.
"""

from __future__ import annotations

import logging
import traceback
import types
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pluggy import HookRelay

from .bytecode import BytecodeCache
from .config import Config
from .errors import (
    AppNotFound,
    GatewayError,
    ManifestError,
    NotAnApp,
    PluginCodeError,
    PluginExit,
    PluginImportError,
    PluginSyntaxError,
)
from .manifest import Manifest
from .namespace import Namespace
from .requirements import check_requirements

if TYPE_CHECKING:
    from .types import ASGIApp

logger = logging.getLogger(__name__)

DEFAULT_APP = "app:app"


@dataclass(frozen=True)
class LoadServices:
    """What the gateway lends every load: the same for all plugins of one gateway."""

    #: the one bounded pool every WSGI plugin and sync function runs on
    executor: Executor
    #: the configuration (the Django kind reads ``django``, the WSGI kind ``server.workers``)
    config: Config
    #: the gateway's data folder (Django's database and secret key, plugins' instance folders)
    data_dir: Path
    #: where plugin modules' bytecode is kept (``None``: compiled on every load)
    bytecode: BytecodeCache | None = None
    #: the executor of one plugin's sync code: its fair share of ``executor``
    #: (:mod:`gateway.containment.share`); None: ``executor`` itself
    executor_for: Callable[[str], Executor] | None = None
    #: puts a version's app behind its plugin's limits before it is mounted
    #: (:mod:`gateway.containment`): ``contain(app, name, manifest, generation, source)``,
    #: ``source`` None for an isolated plugin; None: mounted as it is
    contain: Callable[[ASGIApp, str, Manifest, int, PluginSource | None], ASGIApp] | None = None
    #: an isolated plugin's process reported it holding its event loop: ``stalled(name)``
    #: counts it as the gateway's own stalls are counted (None: not counted)
    stalled: Callable[[str], None] | None = None

    @property
    def multiprocess(self) -> bool:
        """Whether the same plugin is served by several worker processes."""
        return self.config.server.workers > 1


@dataclass
class PluginSource:
    """One load attempt of one plugin: what hooks get to import and adapt its code."""

    name: str
    folder: Path
    manifest: Manifest
    namespace: Namespace
    services: LoadServices
    _on_release: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @property
    def app_ref(self) -> str:
        return self.manifest.app or DEFAULT_APP

    @property
    def executor(self) -> Executor:
        """Where this plugin's sync code runs: its share of the gateway's pool."""
        executor_for = self.services.executor_for
        return executor_for(self.name) if executor_for is not None else self.services.executor

    def on_release(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once this version is released: drained and shut down after being
        replaced or removed. A kind that registered something process-wide for the version
        (Django's app registry) takes it back here."""
        self._on_release.append(callback)

    def release(self) -> None:
        """Run the release callbacks (the registry does, once); a failing one is logged."""
        callbacks, self._on_release = self._on_release, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                logger.exception("plugin %s: a release callback failed", self.name)

    def import_module(self, module: str) -> types.ModuleType:
        """Import ``module`` (relative to the plugin folder) in this version's namespace."""
        try:
            return self.namespace.import_module(module)
        except GatewayError:
            raise
        except SyntaxError as exc:
            line = f" at line {exc.lineno}" if exc.lineno else ""
            raise PluginSyntaxError(
                f"syntax error{line}: {exc.msg}",
                plugin=self.name,
                file=exc.filename or self.file_of(module),
            ) from None
        except ModuleNotFoundError as exc:
            raise self._not_found(module, exc) from None
        except SystemExit as exc:
            raise PluginExit(
                f"called sys.exit({exc.code!r}) while being imported",
                plugin=self.name,
                file=self._failing_file(exc, module),
            ) from None
        except Exception as exc:
            raise PluginCodeError(
                type(exc).__name__,
                f"{type(exc).__name__} while importing {module!r}: {self._readable(str(exc))}",
                plugin=self.name,
                file=self._failing_file(exc, module),
            ) from exc

    def import_object(self, ref: str | None = None) -> object:
        """Import ``"module:attr"`` (default: the manifest's ``app``, else ``app:app``)."""
        ref = ref or self.app_ref
        module_name, _, attrs = ref.partition(":")
        attrs = attrs or "app"
        module = self.import_module(module_name)
        obj: object = module
        for attr in attrs.split("."):
            try:
                obj = getattr(obj, attr)
            except AttributeError:
                raise AppNotFound(
                    f"attribute {attrs!r} not found in module {module_name!r} "
                    f"(looked for {ref!r}; set 'app: module:attribute' in plugin.yaml)",
                    plugin=self.name,
                    file=self.file_of(module_name),
                ) from None
        return obj

    def _readable(self, message: str) -> str:
        """``message`` with this version's synthetic package name put the way a user wrote it
        (``from . import nothere`` fails "from 'gateway_plugin_x_3' (unknown location)")."""
        package = self.namespace.package
        message = message.replace(f"'{package}' (unknown location)", "the plugin folder")
        return message.replace(f"{package}.", "").replace(f"'{package}'", "the plugin package")

    def file_of(self, module: str) -> Path:
        """The file of ``module`` (dotted, relative to the plugin folder)."""
        base = self.folder.joinpath(*module.split("."))
        return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")

    def _failing_file(self, exc: BaseException, module: str) -> str:
        """The innermost traceback frame inside the plugin folder, as ``file:line``."""
        where = str(self.file_of(module))
        folder = str(self.folder)
        for frame, lineno in traceback.walk_tb(exc.__traceback__):
            if frame.f_code.co_filename.startswith(folder):
                where = f"{frame.f_code.co_filename}:{lineno}"
        return where

    def _not_found(self, module: str, exc: ModuleNotFoundError) -> PluginImportError:
        missing = exc.name or ""
        if missing.startswith(self.namespace.package):
            relative = self.namespace.relative_name(missing)
            return PluginImportError(
                f"module {relative!r} not found in the plugin folder",
                plugin=self.name,
                file=self.file_of(relative),
            )
        top = missing.split(".")[0]
        if (self.folder / f"{top}.py").is_file() or (self.folder / top).is_dir():
            return PluginImportError(
                f"'import {top}' looks for a top-level module, but {top!r} is part of this plugin",
                plugin=self.name,
                file=self._failing_file(exc, module),
                hint=f"use a relative import: 'from . import {top}' or 'from .{top} import ...'",
            )
        return PluginImportError(
            f"No module named {missing!r}",
            plugin=self.name,
            file=self._failing_file(exc, module),
            hint="add it to requirements.txt and install it in the gateway's environment",
        )


@dataclass
class LoadedApp:
    """The result of a successful synchronous load: the app to start and mount."""

    framework: str
    asgi_app: ASGIApp
    app: object
    source: PluginSource


def load_app(source: PluginSource, hook: HookRelay) -> LoadedApp:
    """Run the synchronous load steps for ``source`` with the kinds of ``hook`` (a pluggy
    hook relay); raise a :class:`~gateway.errors.PluginError` on failure.

    The caller releases ``source.namespace`` if this raises.
    """
    name, folder, manifest = source.name, source.folder, source.manifest
    check_requirements(folder, name)
    if source.namespace.bytecode is not None:
        # Compiled before anything is imported: much source is compiled by a child process.
        source.namespace.bytecode.prepare(source.namespace.sources())
    known = sorted({f for names in hook.gateway_frameworks() for f in names})
    framework = manifest.framework
    if framework is not None and framework not in known:
        shown = framework if len(framework) <= 40 else framework[:37] + "..."
        raise ManifestError(
            f"unknown framework {shown!r} (known: {', '.join(known)})",
            plugin=name,
            file=manifest.file,
        )
    _create_namespace(source)
    if framework is None:
        framework = _recognise(source, hook)
    app = hook.gateway_load_app(source=source, framework=framework)
    if app is None:
        raise ManifestError(f"no installed kind can load framework {framework!r}", plugin=name)
    asgi_app = hook.gateway_adapt_app(app=app, framework=framework, source=source)
    if asgi_app is None:
        raise ManifestError(f"no installed kind can mount framework {framework!r}", plugin=name)
    return LoadedApp(framework=framework, asgi_app=asgi_app, app=app, source=source)


def load_guarded(source: PluginSource, hook: HookRelay) -> LoadedApp:
    """:func:`load_app`, with anything a plugin or an extension throws turned into a
    :class:`PluginError`.

    It runs in a worker thread: a ``SystemExit`` escaping from there would reach the event
    loop, so it is caught here too.
    """
    try:
        return load_app(source, hook)
    except GatewayError:
        raise
    except (Exception, SystemExit) as exc:
        logger.error("plugin %s: unexpected error while loading", source.name, exc_info=True)
        raise PluginCodeError(
            type(exc).__name__, f"{type(exc).__name__}: {exc}", plugin=source.name
        ) from None


def _create_namespace(source: PluginSource) -> None:
    """Create the package, running the folder's ``__init__.py`` under the same guards."""
    try:
        source.namespace.create()
    except GatewayError:
        raise
    except SyntaxError as exc:
        raise PluginSyntaxError(
            f"syntax error at line {exc.lineno}: {exc.msg}",
            plugin=source.name,
            file=exc.filename,
        ) from None
    except (Exception, SystemExit) as exc:
        raise PluginCodeError(
            type(exc).__name__,
            f"{type(exc).__name__} while importing the package: {exc}",
            plugin=source.name,
            file=source.folder / "__init__.py",
        ) from None


def _recognise(source: PluginSource, hook: HookRelay) -> str:
    """Name the framework of a plugin whose manifest names none."""
    module_name = source.app_ref.partition(":")[0]
    if source.manifest.app or source.file_of(module_name).is_file():
        app: object
        if source.manifest.app:
            app = source.import_object()
        else:
            # An app.py without `app` may still be recognised as a whole module (functions).
            module = source.import_module(module_name)
            app = getattr(module, "app", module)
        framework = hook.gateway_recognise_app(app=app)
        if framework is not None:
            return str(framework)
        if isinstance(app, types.ModuleType):
            raise AppNotFound(
                f"attribute 'app' not found in module {module_name!r}, and it defines no "
                "@endpoint functions (define 'app', or set 'app: module:attribute' in plugin.yaml)",
                plugin=source.name,
                file=source.file_of(module_name),
            )
        raise NotAnApp(
            f"{source.app_ref!r} is a {type(app).__name__!r}, which is not an ASGI or WSGI "
            "application (expected e.g. a FastAPI, Starlette or Flask instance)",
            plugin=source.name,
            file=source.file_of(module_name),
        )
    framework = hook.gateway_recognise_folder(folder=source.folder)
    if framework is None:
        raise ManifestError(
            "cannot tell what this plugin is: no 'framework' in plugin.yaml, no app.py "
            "defining 'app', no urls.py",
            plugin=source.name,
            file=source.folder,
        )
    return str(framework)
