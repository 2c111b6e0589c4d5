"""Running a real gateway in a subprocess and waiting on it: the harness the gateway's own tests
and benchmarks share, and one a plugin's authors can use to test their plugin end to end.

    from gateway.testing import GatewayProcess, wait_for

    gateway = GatewayProcess(workdir, workdir / "plugins", token="secret")
    gateway.wait_ready()
    assert gateway.client.get("/shop/").status_code == 200
    gateway.stop()

It needs ``httpx`` (the ``dev`` extra), as Starlette's ``TestClient`` does. Nothing here sleeps
for a fixed time: every wait polls a condition with a deadline.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

__all__ = ["GatewayProcess", "WaitTimeout", "free_port", "wait_for"]


class WaitTimeout(AssertionError):
    """A condition waited for with :func:`wait_for` did not come true in time."""


def wait_for(
    condition: Callable[[], T | None], timeout: float = 20.0, interval: float = 0.05, what: str = ""
) -> T:
    """Poll ``condition`` until it returns something truthy, and return that; raise
    :class:`WaitTimeout` (with the last value or error seen) after ``timeout`` seconds.
    Connection errors count as "not yet"."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            value = condition()
        except (httpx.HTTPError, OSError) as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        time.sleep(interval)
    raise WaitTimeout(f"{what or 'condition'} not met within {timeout}s (last: {last!r})")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GatewayProcess:
    """``python -m gateway run`` on ``plugins_dir`` in a subprocess, with httpx clients.

    ``token``: the admin token it is started with (``None``: none configured, the gateway
    generates one). ``cpu``: pin the process to that core (``taskset``, for benchmarks).
    Its output goes to ``workdir/<log_name>``.
    """

    def __init__(
        self,
        workdir: Path,
        plugins_dir: Path,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        *,
        token: str | None = "test-token-0123456789",
        cpu: int | None = None,
        log_name: str = "gateway.log",
        port: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.plugins_dir = plugins_dir
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.token = token
        self.log_path = workdir / log_name
        self._log = self.log_path.open("wb")
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        full_env.update({"PYTHONUNBUFFERED": "1"}, **(env or {}))
        if token is not None:
            full_env.setdefault("GATEWAY_ADMIN_TOKEN", token)
        pinned = ["taskset", "-c", str(cpu)] if cpu is not None else []
        self.argv = [
            *pinned,
            sys.executable,
            "-m",
            "gateway",
            "run",
            "--plugins",
            str(plugins_dir),
            "--port",
            str(self.port),
            *args,
        ]
        self.proc = subprocess.Popen(
            self.argv, cwd=workdir, env=full_env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.client = httpx.Client(base_url=self.base_url, timeout=30)
        self.admin = httpx.Client(
            base_url=self.base_url,
            timeout=30,
            headers={"Authorization": f"Bearer {token}"} if token else {},
        )

    def __repr__(self) -> str:
        return f"GatewayProcess(pid={self.proc.pid}, port={self.port})"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check_alive(self) -> None:
        """Raise (with the end of its log) if the gateway has exited."""
        if self.proc.poll() is not None:
            tail = "\n".join(self.log().splitlines()[-40:])
            raise AssertionError(f"gateway exited with {self.proc.returncode}:\n{tail}")

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until ``/_gateway/ready`` answers 200 (every plugin of the first scan tried).

        If it never does, the gateway is stopped before the error is raised: a caller whose
        set-up fails here (a fixture) would otherwise leave it running.
        """

        def ready() -> bool:
            self.check_alive()
            return self.client.get("/_gateway/ready").status_code == 200

        try:
            wait_for(ready, timeout, what="/_gateway/ready")
        except BaseException:
            self.kill()
            raise

    def kill(self) -> None:
        """End the gateway at once (SIGKILL), if it still runs."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def plugin(self, name: str) -> dict[str, Any]:
        """The admin API's view of plugin ``name`` (asserting it exists)."""
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

        return wait_for(matches, timeout, what=f"plugin {name} with {expected}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait for the exit code (SIGKILL and fail after ``timeout``)."""
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
