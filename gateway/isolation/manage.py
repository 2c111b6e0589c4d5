"""``gateway manage PLUGIN COMMAND`` for an isolated plugin: the management command runs in a
process set up as the plugin's worker would be, not in the gateway's process.

An isolated Django *project* has its own settings, which the gateway's process cannot load
(one settings module per process); an isolated Django *app* has its database in its worker's
data folder (``data/isolated/<name>``) unless ``django.database_url`` is set. A command run
with the gateway's own Django runtime would use neither. So the command runs in a child
process with the worker's interpreter (the plugin's venv with ``venv: true``), environment,
working folder and Django set-up:

- a Django project: its folder first on ``sys.path`` and its ``settings``, its migrations
  applied (under the lock its workers share, as they do when they start), then Django's
  ``execute_from_command_line``, what the project's own ``manage.py`` does;
- a Django app plugin: loaded as its worker loads it (:func:`.host.load`: the gateway's
  Django defaults, the worker's data folder, its migrations applied), then the command as
  :mod:`gateway.manage` runs it in-process.

The child inherits the terminal, so ``createsuperuser`` and ``shell`` are interactive.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ..config import DATA_DIR_NAME, Config
from ..errors import GatewayError, PluginError
from ..manifest import Manifest
from ..observability.logs import configure_logging
from .process import worker_environment
from .spec import WorkerSpec
from .venv import ensure_venv

__all__ = ["manage_isolated"]


def manage_isolated(
    config: Config, name: str, folder: Path, manifest: Manifest, argv: Sequence[str]
) -> int:
    """Run ``argv`` (a command and its arguments) for isolated plugin ``name``; its exit code."""
    spec = WorkerSpec.for_plugin(name, folder, manifest, config, Path.cwd() / DATA_DIR_NAME)
    python = asyncio.run(ensure_venv(spec)) if spec.venv else spec.python
    spec.workdir.mkdir(parents=True, exist_ok=True)
    command = [python, "-m", __name__, "--spec", spec.to_json(), "--", *argv]
    env = worker_environment(spec, os.environ)
    env.setdefault("DJANGO_COLORS", "nocolor")
    return subprocess.run(command, env=env, cwd=spec.workdir, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}")
    parser.add_argument("--spec", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    spec = WorkerSpec.from_json(args.spec)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")
    configure_logging("warning", "json" if spec.log_format == "json" else "text", spec.name)
    try:
        return _run(spec, command)
    except GatewayError as exc:
        print(f"gateway: error: {exc}", file=sys.stderr)
        return 1


def _run(spec: WorkerSpec, command: list[str]) -> int:
    from . import host

    if host.is_django_project(spec.folder):
        host.use_project_settings(spec)
        import django
        from django.core.management import execute_from_command_line

        from ..kinds.django.migrate import migrate

        django.setup()
        migrate(spec.workdir)  # as its worker does when it starts: the tables exist
        try:
            execute_from_command_line(["manage.py", *command])
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 1
        return 0
    from ..kinds.django.commands import command_line, run_command
    from ..kinds.django.runtime import DjangoRuntime, app_label

    DjangoRuntime.check_migrations = False  # making a missing migration is what this is for
    hosted = host.load(spec)
    try:
        if hosted.framework != "django":
            raise PluginError(
                f"{spec.name!r} is a {hosted.framework} plugin; gateway manage runs Django's "
                "management commands for Django plugins",
                plugin=spec.name,
            )
        return run_command(command_line(app_label(spec.name), command[0], command[1:]))
    finally:
        hosted.executor.shutdown(wait=False, cancel_futures=True)


if __name__ == "__main__":
    sys.exit(main())
