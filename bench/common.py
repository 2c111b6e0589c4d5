"""What the benchmarks share: starting and stopping servers, reading /proc, the machine's
description, percentiles and writing a Markdown report. Starting a gateway and waiting on it
is :mod:`gateway.testing`, shared with the tests.

Benchmarks are not tests: nothing here is collected by pytest (``testpaths = ["tests"]``).
"""

from __future__ import annotations

import os
import platform
import shlex
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx

from gateway.testing import free_port as free_port
from gateway.testing import wait_for

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
APPS = BENCH / "apps"
PYTHON = sys.executable
TOKEN = "bench-token-0123456789"
#: every benchmarked app answers its one route with exactly these bytes
HELLO_BODY = b'{"message":"hello"}'


class Server:
    """A server subprocess in its own session (so a gunicorn master and its worker, or a
    uvicorn reloader and its child, are stopped together), logging to a file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        port: int,
        log_dir: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        cpu: int | None = None,
    ) -> None:
        self.name = name
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        pinned = ["taskset", "-c", str(cpu)] if cpu is not None else []
        self.argv = [*pinned, *argv]
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        full_env.update({"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"})
        full_env.update(env or {})
        # taskset execs the command, so the pid is the server's own.
        self.proc = subprocess.Popen(
            self.argv,
            cwd=cwd,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def __repr__(self) -> str:
        return f"Server({self.name!r}, pid={self.proc.pid}, port={self.port})"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def command(self) -> str:
        return shlex.join(self.argv)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            tail = "\n".join(self.log().splitlines()[-30:])
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{tail}")

    def wait_http(self, path: str, timeout: float = 120.0, status: int = 200) -> httpx.Response:
        """Wait until ``GET path`` answers ``status``; return that response."""

        def ok() -> httpx.Response | None:
            self.check_alive()
            response = httpx.get(self.base_url + path, timeout=5)
            return response if response.status_code == status else None

        return wait_for(ok, timeout, what=f"{self.name} {path}")  # type: ignore[no-any-return]

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


def gateway_argv(
    plugins: Path, port: int, *, watch: bool = False, quiet: bool = False
) -> list[str]:
    """``python -m gateway run``; ``quiet``: with uvicorn's access log off."""
    flags = [] if watch else ["--no-watch"]
    if quiet:
        flags.append("--no-access-log")
    return [PYTHON, "-m", "gateway", "run", "--plugins", str(plugins), "--port", str(port), *flags]


def gateway_env(**extra: str) -> dict[str, str]:
    return {"GATEWAY_ADMIN_TOKEN": TOKEN, **extra}


def proc_status(pid: int) -> dict[str, str]:
    """``/proc/<pid>/status`` as a dict."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def rss_mb(pid: int) -> float:
    """Resident memory (VmRSS) in MiB."""
    return int(proc_status(pid)["VmRSS"].split()[0]) / 1024


def thread_count(pid: int) -> int:
    return int(proc_status(pid)["Threads"])


def machine() -> str:
    """One line: cores, CPU model, kernel, Python."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{nproc} cores (`nproc`), {model}{mem}, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def git_state() -> str:
    """The commit measured, and whether gateway/ had uncommitted changes (read-only git)."""

    def git(*args: str) -> str:
        out = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
        return out.stdout.strip()

    commit = git("log", "-1", "--format=%h %s") or "unknown commit"
    dirty = git("status", "--porcelain", "--", "gateway")
    return f"commit {commit}" + (" + uncommitted changes in gateway/" if dirty else "")


def versions(*packages: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for package in packages:
        try:
            out.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            out.append(f"{package} (not installed)")
    return ", ".join(out)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [list(map(str, header)), *([str(c) for c in row] for row in rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_doc(doc: Path, title: str, begin: str, end: str, section: str) -> None:
    """Replace what stands between the ``begin`` and ``end`` markers of ``doc``."""
    text = doc.read_text() if doc.exists() else f"# {title}\n\n{begin}\n{end}\n"
    if begin not in text or end not in text:
        text += f"\n{begin}\n{end}\n"
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    doc.write_text(f"{head}{begin}\n{section}\n{end}{tail}")
