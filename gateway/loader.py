"""Turning a plugin folder into a mountable ASGI app: manifest, requirements, framework,
import in its own namespace, adapt.

This module does the synchronous part of a load (it runs off the event loop); starting the
app's lifespan and swapping it into the route table is the registry's job.
"""

from __future__ import annotations

import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import GatewayError, PluginError
from .manifest import Manifest
from .namespace import Namespace
from .requirements import check_requirements

if TYPE_CHECKING:
    from .app import Gateway
    from .types import ASGIApp

DEFAULT_APP = "app:app"


@dataclass
class PluginSource:
    """One load attempt of one plugin: what hooks get to import and adapt its code."""

    name: str
    folder: Path
    manifest: Manifest
    namespace: Namespace
    gateway: Gateway
    #: set by a kind that needs to keep something per version (e.g. Django's URLconf)
    extras: dict[str, object] = field(default_factory=dict)

    @property
    def app_ref(self) -> str:
        return self.manifest.app or DEFAULT_APP

    def import_module(self, module: str) -> types.ModuleType:
        """Import ``module`` (relative to the plugin folder) in this version's namespace."""
        try:
            return self.namespace.import_module(module)
        except GatewayError:
            raise
        except SyntaxError as exc:
            line = f" at line {exc.lineno}" if exc.lineno else ""
            raise PluginError(
                f"syntax error{line}: {exc.msg}",
                plugin=self.name,
                file=exc.filename or self._file_of(module),
                kind="SyntaxError",
            ) from None
        except ModuleNotFoundError as exc:
            raise self._not_found(module, exc) from None
        except SystemExit as exc:
            raise PluginError(
                f"called sys.exit({exc.code!r}) while being imported",
                plugin=self.name,
                file=self._failing_file(exc, module),
                kind="SystemExit",
            ) from None
        except Exception as exc:
            raise PluginError(
                f"{type(exc).__name__} while importing {module!r}: {self._readable(str(exc))}",
                plugin=self.name,
                file=self._failing_file(exc, module),
                kind=type(exc).__name__,
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
                raise PluginError(
                    f"attribute {attrs!r} not found in module {module_name!r} "
                    f"(looked for {ref!r}; set 'app: module:attribute' in plugin.yaml)",
                    plugin=self.name,
                    file=self._file_of(module_name),
                    kind="AttributeError",
                ) from None
        return obj

    def _readable(self, message: str) -> str:
        """``message`` with this version's synthetic package name put the way a user wrote it
        (``from . import nothere`` fails "from 'gateway_plugin_x_3' (unknown location)")."""
        package = self.namespace.package
        message = message.replace(f"'{package}' (unknown location)", "the plugin folder")
        return message.replace(f"{package}.", "").replace(f"'{package}'", "the plugin package")

    def _file_of(self, module: str) -> Path:
        base = self.folder.joinpath(*module.split("."))
        return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")

    def _failing_file(self, exc: BaseException, module: str) -> str:
        """The innermost traceback frame inside the plugin folder, as ``file:line``."""
        where = str(self._file_of(module))
        folder = str(self.folder)
        for frame, lineno in traceback.walk_tb(exc.__traceback__):
            if frame.f_code.co_filename.startswith(folder):
                where = f"{frame.f_code.co_filename}:{lineno}"
        return where

    def _not_found(self, module: str, exc: ModuleNotFoundError) -> PluginError:
        missing = exc.name or ""
        if missing.startswith(self.namespace.package):
            relative = self.namespace.relative_name(missing)
            return PluginError(
                f"module {relative!r} not found in the plugin folder",
                plugin=self.name,
                file=self._file_of(relative),
                kind="ImportError",
            )
        top = missing.split(".")[0]
        if (self.folder / f"{top}.py").is_file() or (self.folder / top).is_dir():
            return PluginError(
                f"'import {top}' looks for a top-level module, but {top!r} is part of this plugin",
                plugin=self.name,
                file=self._failing_file(exc, module),
                kind="ImportError",
                hint=f"use a relative import: 'from . import {top}' or 'from .{top} import ...'",
            )
        return PluginError(
            f"No module named {missing!r}",
            plugin=self.name,
            file=self._failing_file(exc, module),
            kind="ImportError",
            hint="add it to requirements.txt and install it in the gateway's environment",
        )


@dataclass
class LoadedApp:
    """The result of a successful synchronous load: the app to start and mount."""

    framework: str
    asgi_app: ASGIApp
    app: object
    source: PluginSource


def load_app(source: PluginSource) -> LoadedApp:
    """Run the synchronous load steps for ``source``; raise :class:`PluginError` on failure.

    The caller releases ``source.namespace`` if this raises.
    """
    hook = source.gateway.plugin_manager.hook
    name, folder, manifest = source.name, source.folder, source.manifest
    check_requirements(folder, name)
    known = sorted({f for names in hook.gateway_frameworks() for f in names})
    framework = manifest.framework
    if framework is not None and framework not in known:
        raise PluginError(
            f"unknown framework {framework!r} (known: {', '.join(known)})",
            plugin=name,
            file=manifest.file,
            kind="ManifestError",
        )
    _create_namespace(source)
    if framework is None:
        framework = _recognise(source)
    app = hook.gateway_load_app(source=source, framework=framework)
    if app is None:
        raise PluginError(
            f"no installed kind can load framework {framework!r}", plugin=name, kind="ManifestError"
        )
    asgi_app = hook.gateway_adapt_app(app=app, framework=framework, source=source)
    if asgi_app is None:
        raise PluginError(
            f"no installed kind can mount framework {framework!r}",
            plugin=name,
            kind="ManifestError",
        )
    return LoadedApp(framework=framework, asgi_app=asgi_app, app=app, source=source)


def _create_namespace(source: PluginSource) -> None:
    """Create the package, running the folder's ``__init__.py`` under the same guards."""
    try:
        source.namespace.create()
    except GatewayError:
        raise
    except SyntaxError as exc:
        raise PluginError(
            f"syntax error at line {exc.lineno}: {exc.msg}",
            plugin=source.name,
            file=exc.filename,
            kind="SyntaxError",
        ) from None
    except (Exception, SystemExit) as exc:
        raise PluginError(
            f"{type(exc).__name__} while importing the package: {exc}",
            plugin=source.name,
            file=source.folder / "__init__.py",
            kind=type(exc).__name__,
        ) from None


def _recognise(source: PluginSource) -> str:
    """Name the framework of a plugin whose manifest names none."""
    hook = source.gateway.plugin_manager.hook
    module_name = source.app_ref.partition(":")[0]
    if source.manifest.app or source._file_of(module_name).is_file():
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
            raise PluginError(
                f"attribute 'app' not found in module {module_name!r}, and it defines no "
                "@endpoint functions (define 'app', or set 'app: module:attribute' in plugin.yaml)",
                plugin=source.name,
                file=source._file_of(module_name),
                kind="AttributeError",
            )
        raise PluginError(
            f"{source.app_ref!r} is a {type(app).__name__!r}, which is not an ASGI or WSGI "
            "application (expected e.g. a FastAPI, Starlette or Flask instance)",
            plugin=source.name,
            file=source._file_of(module_name),
            kind="NotAnApp",
        )
    framework = hook.gateway_recognise_folder(folder=source.folder)
    if framework is None:
        raise PluginError(
            "cannot tell what this plugin is: no 'framework' in plugin.yaml, no app.py "
            "defining 'app', no urls.py",
            plugin=source.name,
            file=source.folder,
            kind="ManifestError",
        )
    return str(framework)
