"""Which plugin (and which version of it) a piece of running code belongs to.

Every version of a plugin is imported as its own package, ``gateway_plugin_<name>_<n>``
(:mod:`gateway.namespace`), so a frame's module name says whose code it is; the registry
tells :class:`Owners` the plugin and generation of each package when it mounts a version.
A frame whose module is not known that way (a version still loading, a released one whose
modules were emptied) is placed by its file: plugin code lives under ``plugins/<name>/``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from ..namespace import PACKAGE_PREFIX


@dataclass(frozen=True)
class Owner:
    """A plugin, and the generation of it the code belongs to (None: not known)."""

    plugin: str
    generation: int | None

    def __str__(self) -> str:
        if self.generation is None:
            return f"plugin {self.plugin}"
        return f"plugin {self.plugin} (generation {self.generation})"


@dataclass(frozen=True)
class Place:
    """Where code runs: its owner, and the plugin frame's ``file:line`` and function."""

    owner: Owner | None
    file: str
    line: int
    function: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} in {self.function}"


class Owners:
    """The package of each mounted version, and the plugins folder, to place frames."""

    def __init__(self, plugins_dir: Path) -> None:
        self.plugins_dir = str(plugins_dir.resolve()) + "/"
        self._packages: dict[str, Owner] = {}
        self._lock = threading.Lock()  # read by the stall watchdog's thread

    def __repr__(self) -> str:
        return f"Owners({len(self._packages)} packages, plugins_dir={self.plugins_dir!r})"

    def add(self, package: str, plugin: str, generation: int) -> None:
        """Version ``generation`` of ``plugin`` is imported as ``package``."""
        with self._lock:
            self._packages[package] = Owner(plugin, generation)

    def discard(self, package: str) -> None:
        """The version imported as ``package`` is released."""
        with self._lock:
            self._packages.pop(package, None)

    def plugin_of_module(self, module: str) -> str | None:
        """The plugin whose mounted version the module ``module`` (dotted) belongs to."""
        if not module.startswith(PACKAGE_PREFIX):
            return None
        with self._lock:
            owner = self._packages.get(module.partition(".")[0])
        return owner.plugin if owner is not None else None

    def of_frame(self, frame: FrameType) -> Owner | None:
        """The plugin ``frame`` runs the code of, if any."""
        module = frame.f_globals.get("__name__")
        if isinstance(module, str) and module.startswith(PACKAGE_PREFIX):
            with self._lock:
                owner = self._packages.get(module.partition(".")[0])
            if owner is not None:
                return owner
        filename = frame.f_code.co_filename
        if filename.startswith(self.plugins_dir):
            plugin = filename[len(self.plugins_dir) :].partition("/")[0]
            return Owner(plugin, None)
        return None

    def place(self, frame: FrameType | None) -> Place | None:
        """The innermost plugin frame of the stack ending in ``frame`` (else the innermost
        frame, with no owner); None for no frame at all."""
        innermost: Place | None = None
        while frame is not None:
            owner = self.of_frame(frame)
            if owner is not None or innermost is None:
                code = frame.f_code
                here = Place(owner, code.co_filename, frame.f_lineno, code.co_name)
                if owner is not None:
                    return here
                innermost = here
            frame = frame.f_back
        return innermost
