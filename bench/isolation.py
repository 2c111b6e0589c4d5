"""Process isolation (contract section 14): what a plugin in a process of its own costs.

    python bench/isolation.py                # --duration 5 --rounds 7
    python bench/isolation.py --quick        # 2 s per measurement, 3 rounds

Throughput, same FastAPI hello app (``bench/apps/hello_fastapi.py``), every server process
pinned to core 0 (``taskset -c 0``; the gateway and its worker share that one core), ``wrk
-t1 -c64`` on core 1:

- ``uvicorn``: the app under uvicorn alone (the reference);
- ``nginx``: Debian's nginx in front of the app under uvicorn on a Unix socket (keep-alive
  upstream), the pair users run today;
- ``http-proxy``: prototype of a plain HTTP reverse-proxy hop, an ASGI app under uvicorn
  forwarding to the app under uvicorn on a Unix socket (``apps/proto_http_proxy.py``);
- ``isolated``: the app as an isolated plugin (``gateway.isolation``, the framed ASGI
  transport), served by the gateway itself (``isolation: process`` in its ``plugin.yaml``).

Rounds are interleaved and rotated; each round gives a ratio to ``uvicorn`` measured in the
same round, and the median of those ratios is reported (the machine is shared and noisy, so
only ratios measured side by side mean anything). Then: resident memory, time from a crash
to serving again, and reload latency of the isolated plugin. Results go to stdout and into
``docs/ISOLATION.md`` between its generated-section markers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from common import (
    APPS,
    HELLO_BODY,
    PYTHON,
    REPO,
    TOKEN,
    Server,
    free_port,
    git_state,
    machine,
    markdown_table,
    median,
    rss_mb,
    versions,
    wait_for,
    write_doc,
)
from run import UVICORN_FLAGS, ensure_wrk, wrk, wrk_version

SERVER_CPU = 0
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
DOC = REPO / "docs" / "ISOLATION.md"
BEGIN, END = "<!-- bench/isolation.py: begin -->", "<!-- bench/isolation.py: end -->"

CRASH_APP = """
import os
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def hello() -> dict[str, str]:
    return {"message": "hello"}


@app.post("/crash")
async def crash() -> None:
    os._exit(1)
"""


@dataclass
class Context:
    work: Path
    logs: Path
    servers: dict[str, list[Server]]


@dataclass
class Setup:
    key: str
    label: str
    start: Callable[[Context], tuple[list[Server], str]]


def uvicorn_tcp(ctx: Context) -> tuple[list[Server], str]:
    port = free_port()
    argv = [PYTHON, "-m", "uvicorn", "hello_fastapi:app", "--app-dir", str(APPS)]
    server = Server(
        "uvicorn",
        [*argv, "--port", str(port), *UVICORN_FLAGS],
        port=port,
        log_dir=ctx.logs,
        cpu=SERVER_CPU,
    )
    return [server], f"{server.base_url}/"


def uvicorn_uds(ctx: Context, name: str, module: str = "hello_fastapi") -> tuple[Server, Path]:
    sock = ctx.work / f"{name}.sock"
    argv = [PYTHON, "-m", "uvicorn", f"{module}:app", "--app-dir", str(APPS), "--uds", str(sock)]
    server = Server(name, [*argv, *UVICORN_FLAGS], port=0, log_dir=ctx.logs, cpu=SERVER_CPU)
    wait_for(lambda: (server.check_alive(), sock.exists())[1], 60, what=f"{name} socket")
    return server, sock


NGINX_CONF = """
worker_processes 1;
user root;
daemon off;
pid {pid};
error_log {log} warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    upstream app {{ server unix:{sock}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }}
    }}
}}
"""


def nginx(ctx: Context) -> tuple[list[Server], str]:
    backend, sock = uvicorn_uds(ctx, "nginx-upstream")
    port = free_port()
    conf = ctx.work / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            pid=ctx.work / "nginx.pid", log=ctx.logs / "nginx-error.log", sock=sock, port=port
        )
    )
    argv = [shutil.which("nginx") or "/usr/sbin/nginx", "-c", str(conf), "-p", str(ctx.work)]
    front = Server("nginx", argv, port=port, log_dir=ctx.logs, cpu=SERVER_CPU)
    return [front, backend], f"{front.base_url}/"


def http_proxy(ctx: Context) -> tuple[list[Server], str]:
    backend, sock = uvicorn_uds(ctx, "proxy-upstream")
    port = free_port()
    argv = [PYTHON, "-m", "uvicorn", "proto_http_proxy:app", "--app-dir", str(APPS)]
    front = Server(
        "http-proxy",
        [*argv, "--port", str(port), *UVICORN_FLAGS],
        port=port,
        log_dir=ctx.logs,
        cpu=SERVER_CPU,
        env={"BENCH_UPSTREAM": str(sock)},
    )
    return [front, backend], f"{front.base_url}/"


def gateway(ctx: Context, name: str, plugins: Path) -> Server:
    """The gateway serving ``plugins`` (not watching; the admin API reloads), as shipped but
    for the access log, which no baseline writes either."""
    port = free_port()
    argv = [PYTHON, "-m", "gateway", "run", "--plugins", str(plugins), "--port", str(port)]
    workdir = ctx.work / name
    workdir.mkdir(exist_ok=True)
    return Server(
        name,
        [*argv, "--no-watch", "--no-access-log"],
        port=port,
        log_dir=ctx.logs,
        cpu=SERVER_CPU,
        env={"GATEWAY_ADMIN_TOKEN": TOKEN, "GATEWAY_PLUGINS_DRAIN_TIMEOUT_S": "5"},
        cwd=workdir,
    )


def hello_plugin(ctx: Context, name: str, source: str | None = None) -> Path:
    """A plugins folder of its own holding one isolated plugin ``name``."""
    folder = ctx.work / f"plugins-{name}" / name
    folder.mkdir(parents=True, exist_ok=True)
    if source is None:
        shutil.copy(APPS / "hello_fastapi.py", folder / "app.py")
    else:
        (folder / "app.py").write_text(source)
    (folder / "plugin.yaml").write_text("isolation: process\n")
    return folder.parent


def isolated(ctx: Context) -> tuple[list[Server], str]:
    server = gateway(ctx, "isolated", hello_plugin(ctx, "hello"))
    return [server], f"{server.base_url}/hello/"


SETUPS = [
    Setup("uvicorn", "FastAPI, uvicorn alone", uvicorn_tcp),
    Setup("nginx", "nginx -> uvicorn (Unix socket)", nginx),
    Setup("http-proxy", "prototype: ASGI HTTP proxy -> uvicorn (Unix socket)", http_proxy),
    Setup("isolated", "isolated plugin (framed ASGI over a socketpair)", isolated),
]


def start_all(ctx: Context) -> dict[str, str]:
    urls = {}
    for setup in SETUPS:
        print(f"starting {setup.label} ...", flush=True)
        servers, url = setup.start(ctx)
        ctx.servers[setup.key] = servers

        def ok(url: str = url, servers: list[Server] = servers) -> bool:
            for server in servers:
                server.check_alive()
            return httpx.get(url, timeout=5).content == HELLO_BODY

        wait_for(ok, 120, what=setup.label)
        urls[setup.key] = url
    return urls


def process_tree(root: int) -> list[int]:
    """``root`` and every process descended from it (nginx's worker, the isolated plugin's)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    rps: float
    #: server-side CPU time per request, all of its processes together
    cpu_us: float


def measure(
    ctx: Context, urls: dict[str, str], args: argparse.Namespace
) -> dict[str, list[Sample]]:
    keys = list(urls)
    samples: dict[str, list[Sample]] = {k: [] for k in keys}
    for rnd in range(args.rounds):
        order = keys[rnd % len(keys) :] + keys[: rnd % len(keys)]
        if rnd % 2:
            order.reverse()
        for key in order:
            pids = [p for server in ctx.servers[key] for p in process_tree(server.pid)]
            wrk(urls[key], args.warmup)
            before = cpu_seconds(pids)
            result = wrk(urls[key], args.duration)
            used = cpu_seconds(pids) - before
            if result.errors:
                raise RuntimeError(f"{key}: {result.errors} errors in round {rnd}")
            samples[key].append(Sample(result.rps, used / result.requests * 1e6))
        line = "  ".join(
            f"{k} {samples[k][-1].rps:,.0f} ({samples[k][-1].cpu_us:.0f} us)" for k in keys
        )
        print(f"round {rnd + 1}/{args.rounds}: {line}", flush=True)
    return samples


def status(server: Server, name: str) -> dict[str, object]:
    """The admin API's PLUGIN of ``name``."""
    url = f"{server.base_url}/_gateway/plugins/{name}"
    return httpx.get(url, headers=ADMIN, timeout=10).json()  # type: ignore[no-any-return]


def memory(ctx: Context) -> list[tuple[str, float]]:
    uvicorn = ctx.servers["uvicorn"][0]
    iso = ctx.servers["isolated"][0]
    pids = status(iso, "hello")["pids"]
    assert isinstance(pids, list) and isinstance(pids[0], int)
    return [
        ("uvicorn serving the app", rss_mb(uvicorn.pid)),
        ("isolated: the worker process (the plugin's own cost)", rss_mb(pids[0])),
        ("isolated: the gateway process", rss_mb(iso.pid)),
    ]


def crash_to_serving(ctx: Context, times: int) -> list[float]:
    """Seconds from ``os._exit`` in the plugin to its next 200; the process is left up 10 s
    between crashes, so every restart waits the first backoff delay (0.5 s)."""
    server = gateway(ctx, "crash-gateway", hello_plugin(ctx, "crashy", CRASH_APP))
    url = f"{server.base_url}/crashy/"
    seconds = []
    try:
        wait_for(lambda: httpx.get(url, timeout=5).status_code == 200, 120, what="crashy")
        with httpx.Client(timeout=10) as client:
            for _ in range(times):
                time.sleep(10.5)  # a benchmark, not a test: let the process count as stable
                started = time.perf_counter()
                assert client.post(f"{url}crash").status_code == 502
                wait_for(lambda: client.get(url).status_code == 200, 60, interval=0.005)
                seconds.append(time.perf_counter() - started)
    finally:
        server.stop()
    return seconds


def reloads(ctx: Context, times: int) -> list[tuple[float, float]]:
    """(new version ready, whole reload incl. stopping the old one), in seconds."""
    iso = ctx.servers["isolated"][0]
    out = []
    with httpx.Client(timeout=120, headers=ADMIN) as client:
        for _ in range(times):
            before = status(iso, "hello")["pids"]
            started = time.perf_counter()
            answer = client.post(f"{iso.base_url}/_gateway/plugins/hello/reload").json()
            ready = time.perf_counter() - started  # answered once the new version serves
            assert answer["error"] is None, answer
            assert isinstance(before, list)
            wait_for(lambda b=before: not any(Path(f"/proc/{p}").exists() for p in b), 60, 0.005)
            out.append((ready, time.perf_counter() - started))
    return out


def report(
    args: argparse.Namespace,
    samples: dict[str, list[Sample]],
    mem: list[tuple[str, float]],
    crash: list[float],
    reload: list[tuple[float, float]],
) -> str:
    base = samples["uvicorn"]
    rows = []
    for setup in SETUPS:
        values = samples[setup.key]
        ratios = [v.rps / b.rps for v, b in zip(values, base, strict=True)]
        cpu_ratios = [b.cpu_us / v.cpu_us for v, b in zip(values, base, strict=True)]
        target = {"uvicorn": "reference", "isolated": ">= 0.75"}.get(setup.key, "")
        rows.append(
            (
                setup.label,
                f"{median([v.rps for v in values]):,.0f}",
                f"{median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})",
                f"{median([v.cpu_us for v in values]):.0f}",
                f"{median(cpu_ratios):.2f} ({min(cpu_ratios):.2f}-{max(cpu_ratios):.2f})",
                target,
            )
        )
    header = (
        "server (all on core 0)",
        "req/s (median)",
        "req/s ratio to uvicorn: median of rounds (range)",
        "server CPU µs per request",
        "CPU ratio: uvicorn's µs / this (range)",
        "target",
    )
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {machine()}; {git_state()}.",
        f"wrk ({wrk_version()}) -t1 -c64 on core 1, {args.rounds} rounds of {args.duration:g} s "
        f"(after {args.warmup:g} s warm-up each), interleaved and rotated.",
        f"Versions: {versions('uvicorn', 'uvloop', 'httptools', 'fastapi', 'starlette')}; "
        f"{subprocess.run(['nginx', '-v'], capture_output=True, text=True).stderr.strip()}.",
        "",
        markdown_table(header, rows),
        "",
        markdown_table(
            ("resident memory (after the throughput runs)", "MiB"),
            [(label, f"{value:.1f}") for label, value in mem],
        ),
        "",
        markdown_table(
            ("isolated plugin", "median", "all"),
            [
                (
                    "crash (`os._exit`) to serving again, s (includes the 0.5 s restart delay)",
                    f"{median(crash):.2f}",
                    ", ".join(f"{c:.2f}" for c in crash),
                ),
                (
                    "reload: new version ready, s",
                    f"{median([r[0] for r in reload]):.2f}",
                    ", ".join(f"{r[0]:.2f}" for r in reload),
                ),
                (
                    "reload: whole, old version drained and stopped, s",
                    f"{median([r[1] for r in reload]):.2f}",
                    ", ".join(f"{r[1]:.2f}" for r in reload),
                ),
            ],
        ),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--warmup", type=float, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--crashes", type=int, default=3)
    parser.add_argument("--reloads", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/ISOLATION.md")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.rounds, args.crashes, args.reloads = 2, 3, 1, 2
    ensure_wrk()
    if shutil.which("nginx") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], check=True)
    work = Path(tempfile.mkdtemp(prefix="bench-isolation-"))
    ctx = Context(work, work / "logs", {})
    ctx.logs.mkdir()
    try:
        urls = start_all(ctx)
        samples = measure(ctx, urls, args)
        mem = memory(ctx)
        reload = reloads(ctx, args.reloads)
        for servers in ctx.servers.values():
            for server in servers:
                server.stop()
        crash = crash_to_serving(ctx, args.crashes)
    finally:
        for servers in ctx.servers.values():
            for server in servers:
                server.stop()
    section = report(args, samples, mem, crash, reload)
    print(section)
    if not args.no_doc:
        write_doc(DOC, "Process isolation", BEGIN, END, section)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
