"""Shared fixtures: a real gateway process (uvicorn on a free port) on a temporary plugins
folder, talked to over HTTP, and polling helpers (no test sleeps for a fixed time)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "plugins"
EXAMPLES = REPO / "plugins"
TOKEN = "test-token-0123456789"


def wait_for(condition: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except (httpx.HTTPError, OSError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def copy_plugin(source: Path, plugins_dir: Path, name: str | None = None) -> Path:
    target = plugins_dir / (name or source.name)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


class GatewayProcess:
    """``gateway run`` in a subprocess, with an httpx client on its port."""

    def __init__(
        self,
        workdir: Path,
        plugins_dir: Path,
        args: list[str],
        env: dict[str, str],
        *,
        token: str | None = TOKEN,
    ):
        """``token=None`` starts it with no admin token configured (it generates one)."""
        self.workdir = workdir
        self.plugins_dir = plugins_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "gateway.log"
        self._log = self.log_path.open("wb")
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        full_env.update({"PYTHONUNBUFFERED": "1"}, **env)
        if token is not None:
            full_env.setdefault("GATEWAY_ADMIN_TOKEN", token)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway",
                "run",
                "--plugins",
                str(plugins_dir),
                "--port",
                str(self.port),
                *args,
            ],
            cwd=workdir,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.client = httpx.Client(base_url=self.base_url, timeout=30)
        self.admin = httpx.Client(
            base_url=self.base_url,
            timeout=30,
            headers={"Authorization": f"Bearer {token or TOKEN}"},
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited with {self.proc.returncode}:\n{self.log()}")
            return self.client.get("/_gateway/ready").status_code == 200

        wait_for(ready, timeout)

    def plugin(self, name: str) -> dict[str, Any]:
        response = self.admin.get(f"/_gateway/plugins/{name}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_plugin(self, name: str, timeout: float = 20.0, **expected: Any) -> dict[str, Any]:
        """Poll the admin API until plugin ``name`` has every ``expected`` field value."""

        def matches() -> dict[str, Any] | None:
            response = self.admin.get(f"/_gateway/plugins/{name}")
            if response.status_code != 200:
                return None
            info = dict(response.json())
            return info if all(info.get(k) == v for k, v in expected.items()) else None

        return dict(wait_for(matches, timeout))

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"gateway did not stop on SIGTERM:\n{self.log()}") from None
        self.client.close()
        self.admin.close()
        self._log.close()
        return self.proc.returncode


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
