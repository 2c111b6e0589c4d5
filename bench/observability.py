"""What the metrics cost: a FastAPI plugin behind the gateway with ``metrics.enabled`` true
and false, side by side in one run (CONTRACT section 11: at most 3% of throughput).

    python bench/observability.py                # 8 rounds x 5 s (about 2 minutes)
    python bench/observability.py --rounds 2 --duration 3

Both gateways run with ``--no-access-log`` (the access line is measured separately, as
"access log on"), pinned to core 0 with ``wrk -t1 -c64`` on core 1, as ``bench/run.py``
does; rounds alternate which one goes first. It also times, in this process, what the log
record factory that renames plugin loggers adds to one log call. The results go to stdout
and into ``docs/OBSERVABILITY.md`` between its generated-section markers.
"""

from __future__ import annotations

import argparse
import logging
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


def record_factory_cost(n: int = 200_000) -> tuple[float, float]:
    """ns per ``logger.debug`` call that is filtered out after the record is made (a handler
    at WARNING), without and with the gateway's record factory."""
    from gateway.observability.logs import _install_record_factory

    logger = logging.getLogger("gateway_plugin_bench_1.app")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(logging.NullHandler())

    def per_call() -> float:
        started = time.perf_counter()
        for _ in range(n):
            logger.debug("x %s", 1)
        return (time.perf_counter() - started) / n * 1e9

    before = median([per_call() for _ in range(5)])
    _install_record_factory()
    after = median([per_call() for _ in range(5)])
    return before, after


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
                result = wrk(url, args.duration)
                results[label].append(result)
                print(f"round {rnd + 1}/{args.rounds}  {label:<28} {result.rps:>9,.0f} req/s")
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    on, off = results["metrics on"], results["metrics off"]
    ratios = [a.rps / b.rps for a, b in zip(on, off, strict=True)]
    access = [a.rps / b.rps for a, b in zip(results["metrics on, access log on"], on, strict=True)]
    rows = [
        [label, f"{median([r.rps for r in rs]):,.0f}", f"{median([r.p99_ms for r in rs]):.2f}"]
        for label, rs in results.items()
    ]
    without, with_factory = record_factory_cost()
    cost = 1e6 / median([r.rps for r in on]) - 1e6 / median([r.rps for r in off])
    summary = [
        [
            "metrics on / metrics off (req/s)",
            f"{median(ratios):.3f}",
            f"{min(ratios):.3f}-{max(ratios):.3f}",
            ">= 0.97",
            "meets" if median(ratios) >= 0.97 else "MISSES",
        ],
        [
            "access log on / off, metrics on",
            f"{median(access):.3f}",
            f"{min(access):.3f}-{max(access):.3f}",
            "",
            "",
        ],
    ]
    text = "\n\n".join(
        [
            f"Generated by `python bench/observability.py` on {time.strftime('%Y-%m-%d %H:%M %Z')}"
            f" in {(time.monotonic() - started) / 60:.1f} min: {args.rounds} rounds of "
            f"{args.duration:g} s (after {args.warmup:g} s of warm-up), FastAPI hello plugin, "
            "`--no-access-log` unless said, server on core 0, `wrk -t1 -c64` on core 1.",
            f"Machine: {machine()}.  \nCode measured: {code}.",
            markdown_table(["configuration", "req/s (median)", "p99 ms"], rows),
            markdown_table(["ratio", "median of rounds", "min-max", "target", "verdict"], summary),
            f"Metrics add {cost:+.1f} µs of the server core per request (1e6 / req/s, medians). "
            f"The log record factory: {without:.0f} ns per log call without it, "
            f"{with_factory:.0f} ns with it ({with_factory - without:+.0f} ns).",
        ]
    )
    print("\n" + text)
    if not args.no_doc:
        write_doc(DOC, "Observability", BEGIN, END, text)
        print(f"wrote {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
