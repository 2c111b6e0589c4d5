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

from .check import loaded_plugin
from .config import Config
from .errors import PluginError
from .kinds.django.runtime import DjangoRuntime, app_label
from .plugin import SERVING

__all__ = ["manage"]

#: commands whose app labels default to the plugin's
LABELS_OPTIONAL = frozenset({"makemigrations", "migrate", "showmigrations"})
#: commands whose first argument is an app label
LABEL_FIRST = frozenset({"sqlmigrate", "squashmigrations", "sqlsequencereset"})


def command_line(label: str, command: str, args: Sequence[str]) -> list[str]:
    """The arguments for Django's ``ManagementUtility``, the plugin's label put first where
    the command takes app labels and was not given this one."""
    args = list(args)
    if command in LABELS_OPTIONAL | LABEL_FIRST and label not in args:
        args.insert(0, label)
    return ["gateway manage", command, *args]


def manage(config: Config, plugin: str, command: str, args: Sequence[str]) -> int:
    """Load ``plugin`` from ``config.plugins.dir``, run ``command``; the command's exit code."""
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
        return await asyncio.to_thread(_run, argv)


def _run(argv: list[str]) -> int:
    from django.core.management import ManagementUtility

    try:
        ManagementUtility(argv).execute()
    except SystemExit as exc:  # Django's way of reporting a CommandError
        return exc.code if isinstance(exc.code, int) else 1
    return 0
