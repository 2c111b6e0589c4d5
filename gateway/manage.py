"""``gateway manage PLUGIN COMMAND [ARGS...]``: a Django management command with the gateway's
Django settings and that plugin loaded (CONTRACT section 16).

The plugin is loaded the way ``gateway check`` and ``gateway migrate`` load plugins (a
gateway in this process, :func:`gateway.check.loaded_plugin`), except that a
plugin whose models and migrations disagree is loaded anyway: making that migration is what
``makemigrations`` is for. The command then runs through Django's ``ManagementUtility``, off
the event loop (Django refuses database access in a thread running one). Commands that take
app labels get the plugin's label first unless it is given (``makemigrations``,
``migrate``, ``showmigrations``, ``sqlmigrate``, ``squashmigrations``), so
``gateway manage blog makemigrations`` writes into the plugin folder's ``migrations/``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from .check import loaded_plugin
from .config import Config
from .errors import PluginError
from .kinds.django.commands import command_line, run_command
from .kinds.django.runtime import DjangoRuntime, app_label
from .manifest import read_manifest, validate_name
from .plugin import ISOLATION_PROCESS, SERVING

__all__ = ["manage"]


def manage(config: Config, plugin: str, command: str, args: Sequence[str]) -> int:
    """Load ``plugin`` from ``config.plugins.dir``, run ``command``; the command's exit code.

    An isolated plugin's command runs in a process of its own, set up as its worker
    (:mod:`gateway.isolation.manage`)."""
    validate_name(plugin)
    folder = Path(config.plugins.dir).resolve() / plugin
    manifest = read_manifest(folder, plugin)
    if (manifest.isolation or config.plugins.isolation) == ISOLATION_PROCESS:
        from .isolation.manage import manage_isolated

        return manage_isolated(config, plugin, folder, manifest, [command, *args])
    # The load's own log lines would only be noise before the command's output.
    for name in ("gateway.registry", "gateway.retire", "gateway.kinds.django.runtime"):
        logging.getLogger(name).setLevel(logging.WARNING)
    DjangoRuntime.check_migrations = False
    return asyncio.run(_manage(config, plugin, command_line(app_label(plugin), command, args)))


async def _manage(config: Config, plugin: str, argv: list[str]) -> int:
    async with loaded_plugin(config, plugin) as info:
        if info.framework != "django" and info.framework is not None:
            raise PluginError(
                f"{plugin!r} is a {info.framework} plugin; gateway manage runs Django's "
                "management commands for Django plugins",
                plugin=plugin,
            )
        if info.status not in SERVING:
            detail = info.error["message"] if info.error else f"status {info.status}"
            raise PluginError(f"plugin {plugin!r} did not load: {detail}", plugin=plugin)
        return await asyncio.to_thread(run_command, argv)
