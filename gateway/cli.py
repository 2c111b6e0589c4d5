"""The ``gateway`` command: ``run``, ``check DIR``, ``new NAME``, ``migrate``, ``plugins
list|show|reload`` (a running gateway's admin API) and ``manage PLUGIN COMMAND``.

Exit codes: 0 success, 1 a configuration or plugin error (one line, no traceback), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .config import DATA_DIR_NAME, load_config
from .errors import ConfigError, GatewayError
from .manifest import validate_name
from .observability.logs import configure_logging

logger = logging.getLogger("gateway")

FLAG_NAMES = {
    "server.host": "--host",
    "server.port": "--port",
    "server.workers": "--workers",
    "server.access_log": "--no-access-log",
    "server.log_level": "--log-level",
    "server.log_format": "--log-format",
    "plugins.dir": "--plugins",
    "plugins.watch": "--no-watch",
    "plugins.poll": "--poll",
}


def build_parser() -> argparse.ArgumentParser:
    from .scaffold import frameworks

    parser = argparse.ArgumentParser(
        prog="gateway",
        description="Serve FastAPI, Flask, Django and function plugins from one folder, "
        "on one port, reloading each plugin as its folder changes.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="serve every plugin of the plugins folder")
    run.add_argument("--config", type=Path, help="configuration file (default: ./config.yaml)")
    run.add_argument("--plugins", type=Path, metavar="DIR", help="plugins folder")
    run.add_argument("--host", metavar="H")
    run.add_argument("--port", type=int, metavar="P")
    run.add_argument("--workers", type=int, metavar="N")
    run.add_argument("--no-watch", action="store_true", help="do not watch the plugins folder")
    run.add_argument("--no-access-log", action="store_true", help="do not log every request")
    run.add_argument(
        "--log-level",
        type=str.lower,
        choices=["critical", "error", "warning", "info", "debug"],
        help="least severe level logged (default: info)",
    )
    run.add_argument(
        "--log-format",
        choices=["text", "json"],
        help="text lines, or one JSON object per line (default: text)",
    )
    run.add_argument("--poll", action="store_true", help="watch by polling (network file systems)")

    check = commands.add_parser("check", help="load one plugin folder and describe it")
    check.add_argument("dir", type=Path, metavar="DIR")
    check.add_argument("--config", type=Path, help="configuration file (default: ./config.yaml)")

    migrate = commands.add_parser(
        "migrate", help="apply the migrations of every Django plugin, then exit"
    )
    migrate.add_argument("--config", type=Path, help="configuration file (default: ./config.yaml)")
    migrate.add_argument("--plugins", type=Path, metavar="DIR", help="plugins folder")

    plugins = commands.add_parser(
        "plugins", help="list, show or reload the plugins of a running gateway"
    )
    actions = plugins.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text in [
        ("list", "every plugin, as a table"),
        ("show", "one plugin"),
        ("reload", "reload one plugin now"),
    ]:
        sub = actions.add_parser(action, help=text)
        if action != "list":
            sub.add_argument("name", metavar="NAME")
        sub.add_argument(
            "--url", help="the gateway's address (default: from the configuration's host and port)"
        )
        sub.add_argument("--token", help="the admin token (default: GATEWAY_ADMIN_TOKEN)")
        sub.add_argument("--json", action="store_true", help="print JSON instead of a table")
        sub.add_argument("--config", type=Path, help="configuration file (default: ./config.yaml)")

    manage = commands.add_parser(
        "manage", help="run a Django management command with a Django plugin loaded"
    )
    manage.add_argument("--config", type=Path, help="configuration file (default: ./config.yaml)")
    manage.add_argument("--plugins", type=Path, metavar="DIR", help="plugins folder")
    manage.add_argument("plugin", metavar="PLUGIN")
    manage.add_argument("django_command", metavar="COMMAND", help="makemigrations, shell, ...")
    manage.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")

    new = commands.add_parser("new", help="write a working plugin skeleton")
    new.add_argument("name", metavar="NAME")
    new.add_argument("--framework", required=True, choices=frameworks())
    new.add_argument(
        "--dir", type=Path, default=None, help="where to write it (default: plugins.dir)"
    )
    new.add_argument("--config", type=Path, help="configuration file (default: ./config.yaml)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "check":
            return _check(args)
        if args.command == "migrate":
            return _migrate(args)
        if args.command == "plugins":
            return _plugins(args)
        if args.command == "manage":
            return _manage(args)
        return _new(args)
    except GatewayError as exc:
        print(f"gateway: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace) -> int:
    from .admin.token import ensure_token
    from .server import serve

    config = load_config(
        args.config,
        overrides={
            "server.host": args.host,
            "server.port": args.port,
            "server.workers": args.workers,
            "server.access_log": False if args.no_access_log else None,
            "server.log_level": args.log_level,
            "server.log_format": args.log_format,
            "plugins.dir": args.plugins,
            "plugins.watch": False if args.no_watch else None,
            "plugins.poll": True if args.poll else None,
        },
        flag_names=FLAG_NAMES,
    )
    configure_logging(config.server.log_level, config.server.log_format)
    cwd = Path.cwd()
    plugins_dir = cwd / config.plugins.dir
    if not plugins_dir.is_dir():
        raise ConfigError(
            f"plugins.dir: {str(config.plugins.dir)!r} is not a folder (looked for {plugins_dir})",
            key="plugins.dir",
        )
    config = ensure_token(config, cwd / DATA_DIR_NAME)
    serve(config, cwd=cwd)
    return 0


def _check(args: argparse.Namespace) -> int:
    from .check import check_plugin

    # The result is printed below; the registry's log line would say it a second time.
    logging.getLogger("gateway.registry").setLevel(logging.ERROR)
    result = check_plugin(args.dir, load_config(args.config))
    print(result.render())
    if not result.ok:
        print(f"gateway: error: {result.error}", file=sys.stderr)
        return 1
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from .check import migrate_all

    config = load_config(
        args.config, overrides={"plugins.dir": args.plugins}, flag_names=FLAG_NAMES
    )
    results = migrate_all(config)
    for result in results:
        print(result.render(), end="\n\n")
    failed = [r for r in results if not r.ok]
    for result in failed:
        print(f"gateway: error: {result.error}", file=sys.stderr)
    if not results:
        print("no Django plugins found")
    return 1 if failed else 0


def _plugins(args: argparse.Namespace) -> int:
    from .remote import AdminClient, render_plugin, render_table

    client = AdminClient.from_config(
        load_config(args.config), url=args.url, token=args.token, data_dir=Path(DATA_DIR_NAME)
    )
    if args.action == "list":
        answer = client.request("GET", "/plugins")
        print(json.dumps(answer, indent=2) if args.json else render_table(answer["plugins"]))
        return 0
    name = args.name
    if args.action == "show":
        answer = client.request("GET", f"/plugins/{name}")
    else:
        answer = client.request("POST", f"/plugins/{name}/reload")
    print(json.dumps(answer, indent=2) if args.json else render_plugin(answer))
    # a reload that failed answers 200 with the error: say so in the exit code too
    return 1 if args.action == "reload" and answer.get("error") else 0


def _manage(args: argparse.Namespace) -> int:
    from .manage import manage

    config = load_config(
        args.config, overrides={"plugins.dir": args.plugins}, flag_names=FLAG_NAMES
    )
    validate_name(args.plugin)  # never a path: "../x" names no plugin
    if not (Path(config.plugins.dir) / args.plugin).is_dir():
        raise ConfigError(
            f"no plugin folder {args.plugin!r} in {config.plugins.dir}", key="plugins.dir"
        )
    os.environ.setdefault("DJANGO_COLORS", "nocolor")
    return manage(config, args.plugin, args.django_command, args.args)


def _new(args: argparse.Namespace) -> int:
    from .scaffold import write_skeleton

    directory = args.dir if args.dir is not None else load_config(args.config).plugins.dir
    folder = write_skeleton(args.name, args.framework, Path(directory))
    print(f"wrote {folder}; check it with: gateway check {folder}")
    return 0
