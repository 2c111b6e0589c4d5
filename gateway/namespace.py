"""A module namespace per plugin version.

Each loaded version of a plugin is imported as a synthetic package with a unique name
(``gateway_plugin_<name>_<n>``) whose ``__path__`` is the plugin folder. The plugin's modules
import each other relatively, so two plugins may both have ``views.py``, and a version that is
draining never sees the modules of the version that replaced it. Releasing a namespace takes
its modules out of ``sys.modules`` so the old version can be garbage-collected.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
import types
from collections.abc import Iterator, Sequence
from pathlib import Path

from .bytecode import BytecodeCache

PACKAGE_PREFIX = "gateway_plugin_"
#: set on each version's package: the plugin's own folder in the gateway's data folder, where
#: frameworks may write (Flask's ``instance/``, see :mod:`gateway.compat`)
DATA_ATTRIBUTE = "__gateway_data__"
#: set on each version's package: the :class:`BytecodeCache` its modules are compiled through
BYTECODE_ATTRIBUTE = "__gateway_bytecode__"


def fresh_package_name(plugin: str, counter: Iterator[int]) -> str:
    """``gateway_plugin_<name>_<n>``, a package name no module in the process has.

    ``sys.modules`` is shared by every gateway in the process, not only by one registry's
    plugins, so a name is checked there rather than trusted from ``counter`` alone.
    """
    base = f"{PACKAGE_PREFIX}{plugin.replace('-', '_')}_"
    while (candidate := f"{base}{next(counter)}") in sys.modules:
        pass
    return candidate


def plugin_data_folder(package: str) -> Path | None:
    """The data folder of the plugin a module (dotted name) belongs to, if it is a plugin's."""
    module = sys.modules.get(package.partition(".")[0])
    folder = getattr(module, DATA_ATTRIBUTE, None)
    return Path(folder) if folder is not None else None


class _FreshSourceLoader(importlib.machinery.SourceFileLoader):
    """Plugin modules' code: never from ``__pycache__``, from the gateway's own cache.

    A ``__pycache__`` ``.pyc`` is trusted when the source's mtime (whole seconds) and size
    match, so an edit made within the same second that keeps the file's size would load stale
    code on reload. The version's :class:`~gateway.bytecode.BytecodeCache` checks the
    source's content hash instead (PEP 552); without one, the source is compiled.
    """

    def get_code(self, fullname: str) -> types.CodeType:
        path = self.get_filename(fullname)
        source = self.get_data(path)
        package = sys.modules.get(fullname.partition(".")[0])
        cache = getattr(package, BYTECODE_ATTRIBUTE, None)
        if isinstance(cache, BytecodeCache):
            return cache.compile(path, source)
        return self.source_to_code(source, path)


_LOADERS = (
    (_FreshSourceLoader, importlib.machinery.SOURCE_SUFFIXES),
    (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES),
)


class PluginModuleFinder(importlib.abc.MetaPathFinder):
    """Finds the submodules of plugin namespaces, looking at the folder afresh each time.

    The standard path finder caches each directory's listing, which can hide a file added
    by the edit that triggered the reload; imports happen only while loading, so a fresh
    listing costs nothing that matters.
    """

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if path is None or not fullname.startswith(PACKAGE_PREFIX):
            return None
        for entry in path:
            spec = importlib.machinery.FileFinder(entry, *_LOADERS).find_spec(fullname)
            if spec is None:
                continue
            if spec.loader is None and spec.submodule_search_locations:
                # A sub-folder without __init__.py: a namespace package, as usual.
                spec.loader = importlib.machinery.NamespaceLoader(
                    fullname,
                    list(spec.submodule_search_locations),
                    importlib.machinery.PathFinder.find_spec,
                )
            return spec
        return None


def install_finder() -> None:
    """Put the plugin module finder first on ``sys.meta_path`` (once per process; two loads
    racing here at most insert two identical finders)."""
    if not any(isinstance(f, PluginModuleFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, PluginModuleFinder())


class Namespace:
    """The synthetic package one version of one plugin is imported into."""

    def __init__(
        self,
        folder: Path,
        package: str,
        data_folder: Path | None = None,
        bytecode: BytecodeCache | None = None,
    ) -> None:
        self.folder = folder
        self.package = package
        self.data_folder = data_folder
        self.bytecode = bytecode
        self.module: types.ModuleType | None = None

    def __repr__(self) -> str:
        return f"Namespace({self.package!r}, folder={str(self.folder)!r})"

    def create(self) -> types.ModuleType:
        """Create the package (running the folder's ``__init__.py`` if it has one)."""
        install_finder()
        init = self.folder / "__init__.py"
        locations = [str(self.folder)]
        if init.is_file():
            loader = _FreshSourceLoader(self.package, str(init))
            spec = importlib.util.spec_from_file_location(
                self.package, init, loader=loader, submodule_search_locations=locations
            )
            assert spec is not None
            module = importlib.util.module_from_spec(spec)
            self._register(module)
            loader.exec_module(module)
        else:
            spec = importlib.machinery.ModuleSpec(self.package, None, is_package=True)
            spec.submodule_search_locations = locations
            module = importlib.util.module_from_spec(spec)
            module.__path__ = locations
            self._register(module)
        return module

    def _register(self, module: types.ModuleType) -> None:
        if self.data_folder is not None:
            setattr(module, DATA_ATTRIBUTE, str(self.data_folder))
        if self.bytecode is not None:
            setattr(module, BYTECODE_ATTRIBUTE, self.bytecode)
        sys.modules[self.package] = module
        self.module = module

    def import_module(self, name: str) -> types.ModuleType:
        """Import ``name`` (dotted, relative to the plugin folder) inside this namespace."""
        if self.module is None:
            self.create()
        return importlib.import_module(f"{self.package}.{name}")

    def modules(self) -> list[str]:
        """Names of this namespace's modules currently in ``sys.modules``."""
        dotted = self.package + "."
        return [m for m in list(sys.modules) if m == self.package or m.startswith(dotted)]

    def release(self, *, clear: bool = False) -> None:
        """Take this namespace's modules out of ``sys.modules``.

        With ``clear``, also empty each module's namespace, as the interpreter does at exit:
        a module's functions and its globals reference each other, so without this the old
        version waits for a full pass of the cyclic GC (tens of milliseconds with the event
        loop held, or an unbounded wait) before its memory is freed. Only for a version no
        request or thread runs in any more: its code would find its globals gone. A module
        object that is still in ``sys.modules`` under another name (Django's models, reused
        by the next version) is left alone.
        """
        released = [sys.modules.pop(name) for name in self.modules()]
        self.module = None
        if clear:
            live = {id(module) for module in list(sys.modules.values())}
            for module in released:
                if id(module) not in live:
                    module.__dict__.clear()

    def running_threads(self) -> list[threading.Thread]:
        """The threads with a frame of this namespace's modules on their stack now (the
        plugin's own threads, and pool threads still inside one of its requests)."""
        package, dotted = self.package, self.package + "."
        threads = {t.ident: t for t in threading.enumerate()}
        found = []
        for ident, frame in sys._current_frames().items():
            walked: types.FrameType | None = frame
            while walked is not None:
                name = walked.f_globals.get("__name__", "")
                if name == package or name.startswith(dotted):
                    if ident in threads:
                        found.append(threads[ident])
                    break
                walked = walked.f_back
        return found

    def sources(self) -> list[Path]:
        """The plugin's Python files (hidden folders and ``__pycache__`` left out)."""
        found = []
        for parent, dirs, files in os.walk(self.folder):
            dirs[:] = [d for d in dirs if not d.startswith((".", "__pycache__"))]
            found += [Path(parent, f) for f in files if f.endswith(".py")]
        return sorted(found)

    def relative_name(self, module_name: str) -> str:
        """``gateway_plugin_x_3.views`` → ``views``, for messages a user can read."""
        return module_name.removeprefix(self.package + ".")
