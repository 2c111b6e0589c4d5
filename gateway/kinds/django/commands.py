"""Running one Django management command the way ``gateway manage`` does (in the gateway's
Django runtime, :mod:`gateway.manage`, or in an isolated plugin's own process,
:mod:`gateway.isolation.manage`): the plugin's app label put first where the command takes
app labels, then Django's ``ManagementUtility``."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["command_line", "run_command"]

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


def run_command(argv: list[str]) -> int:
    """Django's ``ManagementUtility`` on ``argv``; the command's exit code."""
    from django.core.management import ManagementUtility

    try:
        ManagementUtility(argv).execute()
    except SystemExit as exc:  # Django's way of reporting a CommandError
        return exc.code if isinstance(exc.code, int) else 1
    return 0
