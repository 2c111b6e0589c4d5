"""``gateway check DIR``: load one plugin folder the way the gateway would, and describe it.

Also the loading path of the other commands that need plugins loaded in this process:
``gateway migrate`` and ``gateway manage`` (:func:`loaded_plugin`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from .app import Gateway
from .config import Config
from .errors import ManifestError, PluginError
from .manifest import read_manifest
from .plugin import ACTIVE, DISABLED, PluginInfo


@dataclass
class CheckResult:
    name: str
    framework: str | None
    prefix: str | None
    status: str
    routes: list[str]
    error: str | None

    def render(self) -> str:
        lines = [
            f"plugin:    {self.name}",
            f"framework: {self.framework or '?'}",
            f"prefix:    {self.prefix or '?'}",
            f"status:    {self.status}",
        ]
        if self.routes:
            lines.append("routes:")
            lines += [f"  {route}" for route in self.routes]
        if self.error:
            lines.append(f"error:     {self.error}")
        return "\n".join(lines)

    @property
    def ok(self) -> bool:
        return self.status in (ACTIVE, DISABLED)


def check_plugin(folder: Path, config: Config) -> CheckResult:
    """Load ``folder`` (lifespan included), describe it, shut it down again."""
    folder = folder.resolve()
    if not folder.is_dir():
        raise ManifestError("not a folder", plugin=folder.name, file=folder)
    config = config.model_copy(
        update={"plugins": config.plugins.model_copy(update={"dir": folder.parent})}
    )
    return asyncio.run(_check(folder.name, config))


def migrate_all(config: Config) -> list[CheckResult]:
    """Load every Django plugin of ``config.plugins.dir`` (which applies its migrations)."""
    return asyncio.run(_migrate_all(config))


async def _migrate_all(config: Config) -> list[CheckResult]:
    gateway = Gateway(config)
    names = [
        name for name in gateway.registry.folder_names() if _is_django(gateway.plugins_dir / name)
    ]
    try:
        gateway.events.started()
        return [await _load_and_describe(gateway, name) for name in names]
    finally:
        await gateway.shutdown()


def _is_django(folder: Path) -> bool:
    try:
        manifest = read_manifest(folder, folder.name)
    except PluginError:
        return False
    if manifest.framework is not None:
        return manifest.framework == "django"
    return (folder / "urls.py").is_file() and not (folder / "app.py").is_file()


async def _check(name: str, config: Config) -> CheckResult:
    gateway = Gateway(config)
    try:
        gateway.events.started()
        return await _load_and_describe(gateway, name)
    finally:
        await gateway.shutdown()


async def _load_and_describe(gateway: Gateway, name: str) -> CheckResult:
    info = await gateway.registry.load(name)
    try:
        routes = gateway.registry.describe_routes(name)
    except Exception as exc:  # an extension's bug must not hide that the plugin loads
        routes = [f"? (listing the routes failed: {type(exc).__name__}: {exc})"]
    error = info.error["message"] if info.error else None
    return CheckResult(name, info.framework, info.prefix, info.status, routes, error)


@contextlib.asynccontextmanager
async def loaded_plugin(config: Config, name: str) -> AsyncIterator[PluginInfo]:
    """Plugin ``name`` of ``config.plugins.dir`` loaded in a gateway of this process (no
    watcher, no server) while the block runs; unloaded and shut down after it."""
    gateway = Gateway(config)
    try:
        gateway.events.started()
        yield await gateway.registry.load(name)
    finally:
        await gateway.shutdown()
