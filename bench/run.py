"""Throughput of the gateway against the servers its users would otherwise run.

    python bench/run.py                 # full run: --duration 5 --rounds 6 (about 12 min)
    python bench/run.py --quick         # a smoke run: 3 s per measurement, 1 round

Every configuration serves the same one-route "hello" app (``bench/apps/``), answering the
same bytes (checked before measuring). The servers are started one after another, the server
pinned to core 0 and ``wrk -t1 -c64`` to core 1 with ``taskset``; then every configuration is
measured once per round, rounds interleaved (and rotated, so no configuration always follows
the same one), and the median of the rounds is reported. Only ratios measured side by side
in one run mean anything on a shared machine; the absolute numbers do not.

The results go to stdout and into ``docs/BENCHMARKS.md`` between its generated-section
markers (the hand-written findings around them are kept).
"""

from __future__ import annotations

import argparse
import atexit
import concurrent.futures
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from common import (
    APPS,
    HELLO_BODY,
    PYTHON,
    REPO,
    Server,
    free_port,
    gateway_argv,
    gateway_env,
    git_state,
    machine,
    markdown_table,
    median,
    rss_mb,
    text_table,
    thread_count,
    versions,
    write_doc,
)

SERVER_CPU = 0
CLIENT_CPU = 1
#: the same uvicorn settings for every uvicorn run; the gateway's uvicorn picks the same
#: loop and parser by itself ("auto" = uvloop + httptools when installed)
UVICORN_FLAGS = [
    "--no-access-log",
    "--http",
    "httptools",
    "--loop",
    "uvloop",
    "--log-level",
    "warning",
]
GUNICORN_THREADS = 32  # = the gateway's default wsgi.threads
DOC = REPO / "docs" / "BENCHMARKS.md"
BEGIN, END = "<!-- bench/run.py: begin -->", "<!-- bench/run.py: end -->"


# --- what is measured ------------------------------------------------------------------


@dataclass
class Context:
    work: Path
    logs: Path
    many: int  # "1,000 plugins"
    django_plugins: bool
    servers: dict[str, Server] = field(default_factory=dict)


@dataclass
class Setup:
    key: str
    label: str
    start: Callable[[Context, int], Server]
    path: str
    gateway: bool = False
    #: measured by default; the others only when named with --only
    default: bool = True


def uvicorn(module: str, env: dict[str, str] | None = None) -> Callable[[Context, int], Server]:
    def start(ctx: Context, port: int) -> Server:
        argv = [PYTHON, "-m", "uvicorn", f"{module}:app", "--app-dir", str(APPS)]
        argv += ["--port", str(port), *UVICORN_FLAGS]
        name = f"uvicorn-{module}-{port}"
        return Server(name, argv, port=port, log_dir=ctx.logs, env=env, cpu=SERVER_CPU)

    return start


def gunicorn(module: str, attr: str) -> Callable[[Context, int], Server]:
    def start(ctx: Context, port: int) -> Server:
        argv = [PYTHON, "-m", "gunicorn", "--chdir", str(APPS), "--workers", "1"]
        argv += ["--worker-class", "gthread", "--threads", str(GUNICORN_THREADS)]
        argv += ["--bind", f"127.0.0.1:{port}", "--log-level", "warning", f"{module}:{attr}"]
        return Server(f"gunicorn-{module}", argv, port=port, log_dir=ctx.logs, cpu=SERVER_CPU)

    return start


def write_plugin(folder: Path, kind: str) -> None:
    """One hello plugin of ``kind`` in ``folder``."""
    folder.mkdir(parents=True)
    if kind == "fastapi":
        shutil.copy(APPS / "hello_fastapi.py", folder / "app.py")
    elif kind == "flask":
        shutil.copy(APPS / "hello_flask.py", folder / "app.py")
    elif kind == "raw":
        shutil.copy(APPS / "hello_raw.py", folder / "app.py")
    elif kind == "functions":
        shutil.copy(APPS / "hello_functions.py", folder / "app.py")
        (folder / "plugin.yaml").write_text("framework: functions\n")
    elif kind == "django":
        shutil.copy(APPS / "hello_django_views.py", folder / "views.py")
        shutil.copy(APPS / "hello_django_urls.py", folder / "urls.py")
    else:
        raise ValueError(kind)


def plugins_dir(ctx: Context, kind: str, count: int) -> Path:
    """``count`` hello plugins ``p0000``, ``p0001``, ... (made once, shared by variants)."""
    root = ctx.work / f"plugins-{kind}-{count}"
    if not root.exists():
        for i in range(count):
            write_plugin(root / f"p{i:04d}", kind)
    return root


def gateway(kind: str, count: int, *, quiet: bool) -> Callable[[Context, int], Server]:
    def start(ctx: Context, port: int) -> Server:
        root = plugins_dir(ctx, kind, count)
        name = f"gateway-{kind}-{count}{'-quiet' if quiet else ''}"
        # In its own folder: a config.yaml in the working directory would be read.
        cwd = ctx.work / name
        cwd.mkdir(exist_ok=True)
        argv = gateway_argv(root, port, quiet=quiet)
        env = gateway_env(GATEWAY_DJANGO_SECRET_KEY="bench-only")
        server = Server(name, argv, port=port, log_dir=ctx.logs, env=env, cwd=cwd, cpu=SERVER_CPU)
        server.wait_http("/_gateway/ready", timeout=600)
        return server

    return start


def gateway_under_uvicorn_cli(kind: str) -> Callable[[Context, int], Server]:
    """``Gateway`` built in ``apps/gateway_asgi.py``, served with the baseline's flags."""

    def start(ctx: Context, port: int) -> Server:
        root = plugins_dir(ctx, kind, 1)
        server = uvicorn("gateway_asgi", {"BENCH_PLUGINS": str(root)})(ctx, port)
        server.wait_http("/_gateway/ready", timeout=600)
        return server

    return start


def setups(many: int) -> list[Setup]:
    """Every configuration, in measuring order: the two sides of each ratio next to each
    other, so they are measured close together in time."""
    last = f"/p{many - 1:04d}/"
    threads = f"gunicorn gthread 1x{GUNICORN_THREADS}"

    def gw(key: str, label: str, kind: str, count: int, path: str = "/p0000/") -> list[Setup]:
        return [
            Setup(key, f"{label}, gateway", gateway(kind, count, quiet=False), path, True),
            Setup(
                f"{key}-q",
                f"{label}, gateway --no-access-log",
                gateway(kind, count, quiet=True),
                path,
                True,
            ),
        ]

    return [
        Setup("raw", "raw ASGI, uvicorn (ceiling)", uvicorn("hello_raw"), "/"),
        *gw("gw-raw", "raw ASGI plugin", "raw", 1),
        Setup("fastapi", "FastAPI, uvicorn", uvicorn("hello_fastapi"), "/"),
        *gw("gw-fastapi", "FastAPI plugin", "fastapi", 1),
        Setup(
            "gw-fastapi-cli",
            "FastAPI plugin, Gateway app under the uvicorn CLI",
            gateway_under_uvicorn_cli("fastapi"),
            "/p0000/",
            True,
            default=False,
        ),
        *reversed(
            gw("gw-fastapi-many", f"FastAPI, {many:,} plugins (last)", "fastapi", many, last)
        ),
        Setup(
            "starlette-1", "FastAPI, Starlette root, 1 Mount", uvicorn("starlette_root"), "/p0000/"
        ),
        Setup(
            "starlette-many",
            f"FastAPI, Starlette root, {many:,} Mounts (last)",
            uvicorn("starlette_root", {"BENCH_MOUNTS": str(many)}),
            last,
        ),
        *gw("gw-functions", "functions plugin", "functions", 1),
        Setup("flask", f"Flask, {threads}", gunicorn("hello_flask", "app"), "/"),
        *gw("gw-flask", "Flask plugin", "flask", 1),
        Setup("django", f"Django, {threads}", gunicorn("hello_django", "application"), "/"),
        *gw("gw-django", "Django plugin", "django", 1),
    ]


#: (label, numerator, denominator, target): the ratios the contract (section 11) asks for
RATIOS = [
    ("FastAPI plugin / FastAPI alone (uvicorn)", "gw-fastapi", "fastapi", 0.97),
    ("  same, gateway --no-access-log", "gw-fastapi-q", "fastapi", 0.97),
    ("Flask plugin / Flask on gunicorn gthread", "gw-flask", "flask", 1.0),
    ("  same, gateway --no-access-log", "gw-flask-q", "flask", 1.0),
    ("Django plugin / Django on gunicorn gthread", "gw-django", "django", 1.0),
    ("  same, gateway --no-access-log", "gw-django-q", "django", 1.0),
    ("gateway: {many} plugins / 1 plugin", "gw-fastapi-many", "gw-fastapi", 0.97),
    ("  same, gateway --no-access-log", "gw-fastapi-many-q", "gw-fastapi-q", 0.97),
    ("Starlette root: {many} Mounts / 1 Mount", "starlette-many", "starlette-1", None),
    ("gateway 1 plugin / Starlette root 1 Mount", "gw-fastapi", "starlette-1", None),
    ("  same, gateway --no-access-log", "gw-fastapi-q", "starlette-1", None),
    ("gateway {many} plugins / Starlette {many} Mounts", "gw-fastapi-many", "starlette-many", None),
    ("  same, gateway --no-access-log", "gw-fastapi-many-q", "starlette-many", None),
    ("functions plugin / FastAPI plugin", "gw-functions", "gw-fastapi", None),
    ("  same, gateway --no-access-log", "gw-functions-q", "gw-fastapi-q", None),
    ("FastAPI alone / raw ASGI", "fastapi", "raw", None),
    ("raw ASGI plugin / raw ASGI alone", "gw-raw-q", "raw", None),
]


# --- wrk -------------------------------------------------------------------------------


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx responses + socket errors


PACKAGES = (
    "uvicorn",
    "uvloop",
    "httptools",
    "starlette",
    "fastapi",
    "a2wsgi",
    "flask",
    "django",
    "gunicorn",
)


def wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return " ".join((out.stdout or out.stderr).split()[:2])


def ensure_wrk() -> None:
    """wrk (Debian's), and the ``bench`` extra (gunicorn, py-spy) in this environment."""
    if importlib.util.find_spec("gunicorn") is None:
        print("gunicorn not found: pip install -e '.[bench]'", flush=True)
        extra = f"{REPO}[bench]"
        subprocess.run([PYTHON, "-m", "pip", "install", "-q", "-e", extra], check=True)
    if shutil.which("wrk"):
        return
    print("wrk not found: apt-get update && apt-get install -y wrk", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, duration: float) -> WrkResult:
    argv = ["taskset", "-c", str(CLIENT_CPU), "wrk", "-t1", "-c64", f"-d{duration:g}s"]
    out = subprocess.run([*argv, "--latency", url], capture_output=True, text=True, check=True)
    text = out.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", text).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", text).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", text):
        errors += int(m.group(1))
    if m := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    ):
        errors += sum(map(int, m.groups()))
    return WrkResult(rps, p50, p99, requests, errors)


# --- side measurements -----------------------------------------------------------------


def django_plugins_available(ctx: Context) -> tuple[bool, str]:
    """Whether ``gateway check`` accepts a Django plugin folder (urls.py + views.py)."""
    folder = ctx.work / "check-django" / "hello"
    write_plugin(folder, "django")
    out = subprocess.run(
        [PYTHON, "-m", "gateway", "check", str(folder)],
        capture_output=True,
        text=True,
        cwd=folder.parent,
        env={**os.environ, "GATEWAY_DJANGO_SECRET_KEY": "bench-only"},
        timeout=120,
    )
    summary = (out.stdout + out.stderr).strip().splitlines()
    return out.returncode == 0, " / ".join(summary[-2:])


def idle_rss(ctx: Context, counts: list[int]) -> list[tuple[str, float]]:
    """RSS of an idle gateway serving ``count`` FastAPI plugins (ready, no traffic yet)."""
    rows = []
    for count in counts:
        port = free_port()
        server = gateway("fastapi", count, quiet=False)(ctx, port)
        try:
            time.sleep(2)
            rows.append((f"gateway, {count:,} FastAPI plugin(s)", rss_mb(server.pid)))
        finally:
            server.stop()
    return rows


def flask_threads(ctx: Context, count: int) -> list[tuple[str, int]]:
    """Threads of a gateway with ``count`` Flask plugins after one request to each
    (sequentially, then all at once)."""
    port = free_port()
    server = gateway("flask", count, quiet=True)(ctx, port)
    rows = [(f"{count} Flask plugins, ready, before any request", thread_count(server.pid))]
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            for i in range(count):
                assert client.get(f"/p{i:04d}/").content == HELLO_BODY
        rows.append(("after one request to each, one at a time", thread_count(server.pid)))

        def get(i: int) -> bytes:
            return httpx.get(f"{server.base_url}/p{i:04d}/", timeout=30).content

        with concurrent.futures.ThreadPoolExecutor(count) as pool:
            assert all(b == HELLO_BODY for b in pool.map(get, range(count)))
        rows.append((f"after one request to each, {count} at once", thread_count(server.pid)))
    finally:
        server.stop()
    return rows


# --- the run ---------------------------------------------------------------------------


def start_all(ctx: Context, chosen: list[Setup]) -> list[Setup]:
    ready = []
    for setup in chosen:
        if setup.key.startswith("gw-django") and not ctx.django_plugins:
            continue
        print(f"starting {setup.label} ...", flush=True)
        port = free_port()
        server = setup.start(ctx, port)
        response = server.wait_http(setup.path)
        body = response.content
        ctype = response.headers.get("content-type", "")
        if body != HELLO_BODY or not ctype.startswith("application/json"):
            raise RuntimeError(f"{setup.label}: answered {ctype!r} {body!r}, not {HELLO_BODY!r}")
        ctx.servers[setup.key] = server
        ready.append(setup)
    return ready


def fmt_rps(values: list[float]) -> str:
    return f"{median(values):,.0f}"


def measure(
    ctx: Context, ready: list[Setup], args: argparse.Namespace
) -> dict[str, list[WrkResult]]:
    results: dict[str, list[WrkResult]] = {s.key: [] for s in ready}
    for rnd in range(args.rounds):
        # Rotate the start and alternate the direction, so that no configuration is always
        # measured first, last, or just after the same neighbour.
        shift = rnd // 2 * max(1, len(ready) // max(1, args.rounds // 2))
        order = ready[shift:] + ready[:shift]
        if rnd % 2:
            order.reverse()
        for setup in order:
            server = ctx.servers[setup.key]
            server.check_alive()
            url = server.base_url + setup.path
            wrk(url, args.warmup)
            result = wrk(url, args.duration)
            results[setup.key].append(result)
            print(
                f"round {rnd + 1}/{args.rounds}  {setup.label:<52} {result.rps:>9,.0f} req/s  "
                f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
                f"errors {result.errors}",
                flush=True,
            )
    return results


def tables(
    ready: list[Setup], results: dict[str, list[WrkResult]], many: int, django_note: str
) -> tuple[list[str], list[list[object]], list[str], list[list[object]]]:
    raw = median([r.rps for r in results["raw"]]) if "raw" in results else None
    header = [
        "configuration",
        "req/s (median)",
        "min-max",
        "p50 ms",
        "p99 ms",
        "vs raw ASGI",
        "errors",
    ]
    rows: list[list[object]] = []
    for setup in ready:
        rs = results[setup.key]
        rps = [r.rps for r in rs]
        rows.append(
            [
                setup.label,
                fmt_rps(rps),
                f"{min(rps):,.0f}-{max(rps):,.0f}",
                f"{median([r.p50_ms for r in rs]):.2f}",
                f"{median([r.p99_ms for r in rs]):.2f}",
                f"{median(rps) / raw:.2f}" if raw else "",
                sum(r.errors for r in rs),
            ]
        )
    if "gw-django" not in results and django_note:
        rows.append(["Django plugin, gateway", django_note, "", "", "", "", ""])
    ratio_header = ["ratio (req/s)", "median of rounds", "min-max", "target", "verdict"]
    ratio_rows: list[list[object]] = []
    for label, num, den, target in RATIOS:
        label = label.format(many=f"{many:,}")
        if num not in results or den not in results:
            ratio_rows.append([label, "n/a", "", f">= {target:g}" if target else "", ""])
            continue
        per_round = [a.rps / b.rps for a, b in zip(results[num], results[den], strict=True)]
        value = median(per_round)
        verdict = "" if target is None else ("meets" if value >= target else "MISSES")
        ratio_rows.append(
            [
                label,
                f"{value:.3f}",
                f"{min(per_round):.3f}-{max(per_round):.3f}",
                f">= {target:g}" if target else "",
                verdict,
            ]
        )
    return header, rows, ratio_header, ratio_rows


def per_request_overhead(results: dict[str, list[WrkResult]]) -> list[list[object]]:
    """Time per request (1 / req/s on the one server core) and what the gateway adds."""
    pairs = [
        ("FastAPI plugin vs FastAPI alone", "gw-fastapi", "fastapi"),
        ("  --no-access-log", "gw-fastapi-q", "fastapi"),
        ("Flask plugin vs gunicorn", "gw-flask", "flask"),
        ("  --no-access-log", "gw-flask-q", "flask"),
        ("Django plugin vs gunicorn", "gw-django", "django"),
        ("  --no-access-log", "gw-django-q", "django"),
        ("access log alone (FastAPI plugin)", "gw-fastapi", "gw-fastapi-q"),
        ("the gateway's own cost (raw ASGI plugin vs alone)", "gw-raw-q", "raw"),
    ]
    rows: list[list[object]] = []
    for label, a, b in pairs:
        if a in results and b in results:
            ta = 1e6 / median([r.rps for r in results[a]])
            tb = 1e6 / median([r.rps for r in results[b]])
            rows.append([label, f"{ta:.0f}", f"{tb:.0f}", f"{ta - tb:+.0f}"])
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=1, help="seconds of load before each")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--plugins", type=int, default=1000, help="the 'many plugins' count")
    parser.add_argument("--only", help="comma-separated setup keys (default: all)")
    parser.add_argument("--quick", action="store_true", help="--duration 3 --warmup 1 --rounds 1")
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/BENCHMARKS.md")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.rounds = 3, 1, 1
    return args


def choose(args: argparse.Namespace) -> list[Setup]:
    """The setups to run: ``--only``'s keys, else every default one."""
    if args.only:
        keys = set(args.only.split(","))
        return [s for s in setups(args.plugins) if s.key in keys]
    return [s for s in setups(args.plugins) if s.default]


@dataclass
class Run:
    """What one run measured."""

    ready: list[Setup]
    results: dict[str, list[WrkResult]]
    memory: list[list[object]] = field(default_factory=list)
    threads: list[list[object]] = field(default_factory=list)


def run_all(ctx: Context, chosen: list[Setup], args: argparse.Namespace) -> Run:
    """Start every chosen server, measure the rounds, read memory, stop them all."""
    memory: list[list[object]] = []
    try:
        ready = start_all(ctx, chosen)
        memory += [
            [s.label, f"{rss_mb(ctx.servers[s.key].pid):.1f}"]
            for s in ready
            if s.key in ("fastapi", "gw-fastapi", "gw-fastapi-many", "starlette-many")
        ]
        results = measure(ctx, ready, args)
        memory += [
            [f"{k}, after the run", f"{rss_mb(ctx.servers[k].pid):.1f}"]
            for k in ("gw-fastapi", "gw-fastapi-many")
            if k in ctx.servers
        ]
    finally:
        for server in ctx.servers.values():
            server.stop()
    run = Run(ready, results, memory)
    if not args.only:  # separate starts, on a quiet machine
        idle = idle_rss(ctx, sorted({1, 100, args.plugins}))
        run.memory += [[f"{label} (idle, separate start)", f"{mb:.1f}"] for label, mb in idle]
        run.threads = [[label, n] for label, n in flask_threads(ctx, 100)]
    return run


MEMORY_HEADER = ["process", "RSS MiB"]
THREADS_HEADER = ["gateway process (wsgi.threads = 32)", "threads"]
OVERHEAD_HEADER = ["per request (µs of the server core)", "gateway", "baseline", "added"]


def report(run: Run, args: argparse.Namespace, django_note: str) -> list[tuple[str, str, str]]:
    """The report's sections: (title, text table, Markdown table), empty ones left out."""
    header, rows, ratio_header, ratio_rows = tables(
        run.ready, run.results, args.plugins, django_note
    )
    sections = [
        ("Requests per second", header, rows),
        ("Ratios", ratio_header, ratio_rows),
        ("Time per request", OVERHEAD_HEADER, per_request_overhead(run.results)),
        ("Memory", MEMORY_HEADER, run.memory),
        ("Threads", THREADS_HEADER, run.threads),
    ]
    return [
        (title, text_table(head, body), markdown_table(head, body))
        for title, head, body in sections
        if body
    ]


def document(
    sections: list[tuple[str, str, str]],
    args: argparse.Namespace,
    code: str,
    elapsed: float,
    argv: list[str],
) -> str:
    """The generated section of docs/BENCHMARKS.md."""
    command = "python bench/run.py " + " ".join(argv)
    intro = [
        f"Generated by `{command.strip()}` on {time.strftime('%Y-%m-%d %H:%M %Z')} "
        f"in {elapsed / 60:.1f} min.",
        f"Machine: {machine()}.  \nVersions: {versions(*PACKAGES)}, {wrk_version()}.  \n"
        f"Code measured: {code}.",
        f"Settings: {args.duration:g} s per measurement after {args.warmup:g} s of warm-up, "
        f"{args.rounds} round(s) interleaved; server on core {SERVER_CPU}, "
        f"`wrk -t1 -c64` on core {CLIENT_CPU}. Rows marked --no-access-log run the gateway "
        "with uvicorn's access log off, as every uvicorn baseline runs; the others as "
        "shipped (access log on, the default).",
    ]
    notes = {
        "Time per request": "1e6 / (req/s): microseconds of the one server core per "
        "request, at 64 connections.\n\n"
    }
    parts = [f"### {title}\n\n{notes.get(title, '')}{table}" for title, _, table in sections]
    return "\n\n".join(intro + parts)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_wrk()
    started = time.monotonic()
    code = git_state()  # at the start: others may commit while this runs
    work = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    if not args.keep:
        atexit.register(shutil.rmtree, work, True)
    logs = work / "logs"
    logs.mkdir()
    ctx = Context(work, logs, args.plugins, django_plugins=False)
    ok, summary = django_plugins_available(ctx)
    ctx.django_plugins = ok
    print(f"gateway check on a Django plugin folder: {'accepted' if ok else 'refused'}: {summary}")
    run = run_all(ctx, choose(args), args)
    elapsed = time.monotonic() - started
    sections = report(run, args, "" if ok else "n/a (Django plugins not available yet)")
    for _, table, _ in sections:
        print(f"\n{table}")
    print(f"\ntotal {elapsed / 60:.1f} min; logs in {logs}")
    (work / "results.json").write_text(
        json.dumps({k: [r.__dict__ for r in v] for k, v in run.results.items()}, indent=1)
    )
    if not args.no_doc:
        given = argv if argv is not None else sys.argv[1:]
        write_doc(DOC, "Benchmarks", BEGIN, END, document(sections, args, code, elapsed, given))
        print(f"wrote {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
