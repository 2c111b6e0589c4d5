"""The ``gateway`` command: ``run``, ``check DIR``, ``new NAME``.

Exit codes: 0 success, 1 a configuration or plugin error (one line, no traceback), 2 bad usage.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from .config import DATA_DIR_NAME, load_config
from .errors import ConfigError, GatewayError
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


def _new(args: argparse.Namespace) -> int:
    from .scaffold import write_skeleton

    directory = args.dir if args.dir is not None else load_config(args.config).plugins.dir
    folder = write_skeleton(args.name, args.framework, Path(directory))
    print(f"wrote {folder}; check it with: gateway check {folder}")
    return 0
