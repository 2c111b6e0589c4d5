"""Running ``tests/isolation_host.py`` (isolated plugins under uvicorn) for the
``test_isolation_*`` tests, and looking at the processes it leaves."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from conftest import FIXTURES, REPO, free_port, wait_for

HOST = Path(__file__).resolve().parent / "isolation_host.py"


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def workers_of(parent: int) -> list[int]:
    """Live worker processes started by ``parent`` (by their ``--parent`` argument)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"gateway.isolation.worker" in argv and str(parent).encode() in argv:
            index = argv.index(b"--parent")
            if argv[index + 1] == str(parent).encode() and pid_alive(int(entry.name)):
                found.append(int(entry.name))
    return found


class HostProcess:
    """The isolation host in a subprocess, serving ``plugins`` (WorkerSpec fields by name;
    ``folder`` may name a fixture under tests/plugins)."""

    def __init__(self, workdir: Path, plugins: dict[str, dict[str, Any]], drain: float = 5) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        resolved = {}
        for name, fields in plugins.items():
            fields = dict(fields)
            source = Path(fields.get("folder", name))
            if not source.is_absolute():
                target = workdir / "plugins" / name
                if not target.exists():
                    shutil.copytree(
                        FIXTURES / source, target, ignore=shutil.ignore_patterns("__pycache__")
                    )
                source = target
            fields["folder"] = str(source)
            fields.setdefault("prefix", f"/{name}")
            resolved[name] = fields
        self.config = workdir / "host.json"
        self.config.write_text(
            json.dumps(
                {"data_dir": str(workdir / "data"), "drain_timeout_s": drain, "plugins": resolved}
            )
        )
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "host.log"
        self._log = self.log_path.open("ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [sys.executable, str(HOST), str(self.config), str(self.port)],
            cwd=workdir,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.client = httpx.Client(base_url=self.base_url, timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 90.0) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"host exited with {self.proc.returncode}:\n{self.log()}")
            return self.client.get("/_host/status").status_code == 200

        wait_for(ready, timeout)

    def status(self, name: str | None = None) -> dict[str, Any]:
        data = self.client.get("/_host/status").json()
        return data if name is None else data[name]

    def wait_status(self, name: str, timeout: float = 20.0, **expected: Any) -> dict[str, Any]:
        def matches() -> dict[str, Any] | None:
            info = self.status(name)
            return info if all(info.get(k) == v for k, v in expected.items()) else None

        return dict(wait_for(matches, timeout))

    def all_pids(self) -> list[int]:
        return [pid for info in self.status().values() for pid in info["pids"]]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"host did not stop on {sig!r}:\n{self.log()}") from None
        self.client.close()
        self._log.close()
        # Whatever the test did, leave no worker behind for the next test.
        for pid in workers_of(self.proc.pid):
            os.kill(pid, signal.SIGKILL)
        return self.proc.returncode


def start_host(workdir: Path, plugins: dict[str, dict[str, Any]], **kwargs: Any) -> HostProcess:
    host = HostProcess(workdir, plugins, **kwargs)
    try:
        host.wait_ready()
    except BaseException:
        host.stop()
        raise
    return host
