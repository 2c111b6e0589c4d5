"""Shared fixtures: a real gateway process (uvicorn on a free port) on a temporary plugins
folder, talked to over HTTP. The process harness and the polling helper are
:mod:`gateway.testing`, shared with the benchmarks (no test sleeps for a fixed time)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.testing import GatewayProcess, free_port, wait_for

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "plugins"
EXAMPLES = REPO / "plugins"
TOKEN = "test-token-0123456789"

__all__ = [
    "EXAMPLES",
    "FIXTURES",
    "REPO",
    "TOKEN",
    "GatewayProcess",
    "copy_plugin",
    "free_port",
    "launch_gateway",
    "wait_for",
]


def copy_plugin(source: Path, plugins_dir: Path, name: str | None = None) -> Path:
    target = plugins_dir / (name or source.name)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def launch_gateway(
    workdir: Path,
    *plugins: Path | str,
    args: list[str] | None = None,
    env: dict[str, str] | None = None,
    token: str | None = TOKEN,
    wait: bool = True,
) -> GatewayProcess:
    """Copy ``plugins`` into ``workdir/plugins`` and start a gateway on it there.

    For module-scoped fixtures (one gateway shared by a test module); the caller stops it.
    """
    plugins_dir = workdir / "plugins"
    plugins_dir.mkdir(exist_ok=True)
    for plugin in plugins:
        source = plugin if isinstance(plugin, Path) else FIXTURES / plugin
        copy_plugin(source, plugins_dir)
    gateway = GatewayProcess(workdir, plugins_dir, args or [], env or {}, token=token)
    if wait:
        try:
            gateway.wait_ready()
        except BaseException:
            gateway.stop()
            raise
    return gateway


@pytest.fixture
def start_gateway(tmp_path: Path) -> Iterator[Callable[..., GatewayProcess]]:
    """Start a gateway on ``plugins`` (fixture or example plugin folders, copied)."""
    started: list[GatewayProcess] = []

    def start(
        *plugins: Path | str,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        wait: bool = True,
    ) -> GatewayProcess:
        gateway = launch_gateway(tmp_path, *plugins, args=args, env=env, wait=wait)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()
