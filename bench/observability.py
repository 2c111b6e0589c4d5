"""What the metrics cost: a FastAPI plugin behind the gateway with ``metrics.enabled`` true
and false, side by side in one run (CONTRACT section 11: at most 3% of throughput).

    python bench/observability.py                # 8 rounds x 5 s (about 3 minutes)
    python bench/observability.py --rounds 2 --duration 3

Both gateways run with ``--no-access-log`` (the access line is measured separately, as
"access log on"), pinned to core 0 with ``wrk -t1 -c64`` on core 1, as ``bench/run.py``
does; rounds alternate which one goes first. Besides requests per second, each measurement
reads the server's CPU time (``/proc/<pid>/stat``) and divides it by the requests served:
on a machine shared with other work, throughput moves by tens of percent between rounds
while CPU time per request barely does, so that is the ratio to trust.

In this process it also times the middleware alone around a trivial app, with and without
metrics, and what the log record factory that renames plugin loggers adds to a log call.
The results go to stdout and into ``docs/OBSERVABILITY.md`` between its generated-section
markers.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import (
    HELLO_BODY,
    REPO,
    Server,
    free_port,
    gateway_argv,
    gateway_env,
    git_state,
    machine,
    markdown_table,
    median,
    write_doc,
)
from run import SERVER_CPU, WrkResult, ensure_wrk, write_plugin, wrk

DOC = REPO / "docs" / "OBSERVABILITY.md"
BEGIN, END = "<!-- bench/observability.py: begin -->", "<!-- bench/observability.py: end -->"

SETUPS = {
    "metrics on": {"quiet": True, "env": {}},
    "metrics off": {"quiet": True, "env": {"GATEWAY_METRICS_ENABLED": "false"}},
    "metrics on, access log on": {"quiet": False, "env": {}},
}


def start(work: Path, label: str) -> Server:
    plugins = work / "plugins"
    if not plugins.exists():
        write_plugin(plugins / "p0000", "fastapi")
    cwd = work / label.replace(" ", "-").replace(",", "")
    cwd.mkdir()
    port = free_port()
    setup = SETUPS[label]
    server = Server(
        cwd.name,
        gateway_argv(plugins, port, quiet=bool(setup["quiet"])),
        port=port,
        log_dir=work,
        env=gateway_env(**setup["env"]),  # type: ignore[arg-type]
        cwd=cwd,
        cpu=SERVER_CPU,
    )
    response = server.wait_http("/p0000/", timeout=120)
    assert response.content == HELLO_BODY, response.content
    return server


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def middleware_cost(n: int = 100_000) -> dict[str, float]:
    """ns per request of the instrumentation middleware around a trivial ASGI app (access
    log off), with and without metrics, and of the bare app."""
    from gateway.observability.access import Instrumented
    from gateway.observability.metrics import Metrics
    from gateway.observability.request_ids import RequestIds

    start = {"type": "http.response.start", "status": 200, "headers": []}
    body = {"type": "http.response.body", "body": b"hello"}

    async def app(scope: object, receive: object, send: object) -> None:
        await send(start)  # type: ignore[operator]
        await send(body)  # type: ignore[operator]

    async def send(message: object) -> None:
        pass

    async def receive() -> dict[str, str]:
        return {"type": "http.request"}

    ids, metrics = RequestIds(), Metrics()
    apps = {
        "bare app": app,
        "middleware, metrics off": Instrumented(app, "p", 1, ids=ids, stats=None, access_log=False),
        "middleware, metrics on": Instrumented(
            app, "p", 1, ids=ids, stats=metrics.plugin("p"), access_log=False
        ),
    }

    async def run(target: object) -> float:
        headers = [(b"host", b"x"), (b"x-request-id", b"abc")]
        started = time.perf_counter()
        for _ in range(n):
            scope = {"type": "http", "method": "GET", "path": "/p/", "headers": headers}
            await target(scope, receive, send)  # type: ignore[operator]
        return (time.perf_counter() - started) / n * 1e9

    async def all_rounds() -> dict[str, list[float]]:
        times: dict[str, list[float]] = {label: [] for label in apps}
        for _ in range(7):
            for label, target in apps.items():
                times[label].append(await run(target))
        return times

    times = asyncio.run(all_rounds())
    return {label: median(values) for label, values in times.items()}


def record_factory_cost(n: int = 100_000) -> dict[str, tuple[float, float]]:
    """ns per ``logger.debug`` call whose record is made then dropped by a NullHandler,
    without and with the gateway's record factory, for a plugin's logger and another one."""
    from gateway.observability.logs import _install_record_factory

    loggers = {
        "a plugin module's logger": logging.getLogger("gateway_plugin_bench_1.app"),
        "any other logger": logging.getLogger("bench.other"),
    }
    for logger in loggers.values():
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.addHandler(logging.NullHandler())

    def per_call(logger: logging.Logger) -> float:
        started = time.perf_counter()
        for _ in range(n):
            logger.debug("x %s", 1)
        return (time.perf_counter() - started) / n * 1e9

    before = {k: median([per_call(v) for _ in range(5)]) for k, v in loggers.items()}
    _install_record_factory()
    after = {k: median([per_call(v) for _ in range(5)]) for k, v in loggers.items()}
    return {k: (before[k], after[k]) for k in loggers}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--warmup", type=float, default=1)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args(argv)
    ensure_wrk()
    code = git_state()
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="gateway-bench-obs-"))
    servers: dict[str, Server] = {}
    results: dict[str, list[WrkResult]] = {label: [] for label in SETUPS}
    cpu_us: dict[str, list[float]] = {label: [] for label in SETUPS}  # per request
    try:
        for label in SETUPS:
            servers[label] = start(work, label)
        order = list(SETUPS)
        for rnd in range(args.rounds):
            for label in order if rnd % 2 == 0 else reversed(order):
                server = servers[label]
                server.check_alive()
                url = server.base_url + "/p0000/"
                wrk(url, args.warmup)
                cpu = cpu_seconds(server.pid)
                result = wrk(url, args.duration)
                cpu_us[label].append((cpu_seconds(server.pid) - cpu) / result.requests * 1e6)
                results[label].append(result)
                print(
                    f"round {rnd + 1}/{args.rounds}  {label:<28} {result.rps:>9,.0f} req/s  "
                    f"{cpu_us[label][-1]:6.1f} µs CPU/request"
                )
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    on, off = results["metrics on"], results["metrics off"]
    ratios = [a.rps / b.rps for a, b in zip(on, off, strict=True)]
    cpu_ratios = [b / a for a, b in zip(cpu_us["metrics on"], cpu_us["metrics off"], strict=True)]
    access = [
        b / a
        for a, b in zip(cpu_us["metrics on, access log on"], cpu_us["metrics on"], strict=True)
    ]
    rows = [
        [
            label,
            f"{median([r.rps for r in rs]):,.0f}",
            f"{min(r.rps for r in rs):,.0f}-{max(r.rps for r in rs):,.0f}",
            f"{median(cpu_us[label]):.1f}",
            f"{median([r.p99_ms for r in rs]):.2f}",
        ]
        for label, rs in results.items()
    ]

    def ratio_row(label: str, values: list[float], target: float | None) -> list[object]:
        verdict = "" if target is None else ("meets" if median(values) >= target else "MISSES")
        return [
            label,
            f"{median(values):.3f}",
            f"{min(values):.3f}-{max(values):.3f}",
            f">= {target:g}" if target else "",
            verdict,
        ]

    summary = [
        ratio_row("metrics on / off, by CPU time per request", cpu_ratios, 0.97),
        ratio_row("metrics on / off, by req/s (noisy here)", ratios, None),
        ratio_row("access log on / off (metrics on), by CPU time", access, None),
    ]
    middleware = middleware_cost()
    bare = middleware["bare app"]
    micro = [[label, f"{ns:,.0f}", f"{ns - bare:+,.0f}"] for label, ns in middleware.items()]
    factory = record_factory_cost()
    factory_rows = [
        [label, f"{a:,.0f}", f"{b:,.0f}", f"{b - a:+,.0f}"] for label, (a, b) in factory.items()
    ]
    added = median(cpu_us["metrics on"]) - median(cpu_us["metrics off"])
    text = "\n\n".join(
        [
            f"Generated by `python bench/observability.py` on {time.strftime('%Y-%m-%d %H:%M %Z')}"
            f" in {(time.monotonic() - started) / 60:.1f} min: {args.rounds} rounds of "
            f"{args.duration:g} s (after {args.warmup:g} s of warm-up), FastAPI hello plugin, "
            "`--no-access-log` unless said, server on core 0, `wrk -t1 -c64` on core 1.",
            f"Machine: {machine()}, load average {os.getloadavg()[0]:.1f} at the end.  \n"
            f"Code measured: {code}.",
            markdown_table(
                ["configuration", "req/s (median)", "min-max", "CPU µs/request", "p99 ms"], rows
            ),
            markdown_table(["ratio", "median of rounds", "min-max", "target", "verdict"], summary),
            f"Metrics add {added:+.1f} µs of server CPU per request (medians).",
            "The middleware alone, in one process (ns per request, median of 7 x 100,000):",
            markdown_table(["configuration", "ns/request", "added"], micro),
            "The log record factory (ns per log call whose record is made):",
            markdown_table(["logger", "without", "with", "added"], factory_rows),
        ]
    )
    print("\n" + text)
    if not args.no_doc:
        write_doc(DOC, "Observability", BEGIN, END, text)
        print(f"wrote {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
