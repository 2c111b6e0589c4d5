"""What containment costs and what it buys, side by side with a baseline commit.

    python bench/containment.py                     # 6 rounds x 5 s, about 6 minutes
    python bench/containment.py --quick --no-doc    # a smoke run
    python bench/containment.py --baseline 8c578af  # the code to compare with (default)

1. **Throughput with the limits on** (contract 11 and 13): a Flask and a FastAPI hello plugin
   (``bench/apps/``) behind the gateway of the baseline commit and behind this working tree,
   with the default limits (every request passes the body-limit wrapper and the door's
   header counting) and with ``max_concurrency`` and ``request_timeout_s`` set in the
   plugin's manifest (two more wrappers). ``wrk -t1 -c64`` on core 1, the gateway
   (``--no-access-log``) on core 0, rounds interleaved; the median of per-round ratios.
2. **Other WSGI plugins while one is stuck**: a Flask hello plugin's p99 (``wrk -t1 -c8``)
   before and while another Flask plugin has 40 requests stuck in its view, on the baseline
   and on this tree (default pool: 32 threads, so a plugin's share is 16).

The baseline's code comes from ``git archive`` of the commit, run with the same interpreter
and packages (``PYTHONPATH``). Results go to stdout and into ``docs/RELIABILITY.md`` between
its generated-section markers.
"""

from __future__ import annotations

import argparse
import atexit
import fcntl
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import (
    APPS,
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
    text_table,
    versions,
    wait_for,
    write_doc,
)
from run import ensure_wrk  # apt-get installs wrk if it is missing

SERVER_CPU = 0
CLIENT_CPU = 1
DOC = REPO / "docs" / "RELIABILITY.md"
BEGIN, END = "<!-- bench/containment.py: begin -->", "<!-- bench/containment.py: end -->"
LIMITS_ON = "limits: {max_concurrency: 10000, request_timeout_s: 60}\n"
STUCK = 40


@dataclass
class Wrk:
    rps: float
    p99_ms: float
    requests: int
    errors: int
    #: CPU time the server process spent per request (user + system), when measured
    cpu_us: float = float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk_cpu(server: Server, path: str, duration: float) -> Wrk:
    """:func:`wrk`, and the server's CPU time per request over the same run."""
    started = cpu_seconds(server.pid)
    result = wrk(server.base_url + path, duration)
    result.cpu_us = (cpu_seconds(server.pid) - started) / max(1, result.requests) * 1e6
    return result


def wrk(url: str, duration: float, connections: int = 64, timeout_s: float = 2) -> Wrk:
    argv = ["taskset", "-c", str(CLIENT_CPU), "wrk", "-t1", f"-c{connections}"]
    argv += [f"-d{duration:g}s", f"--timeout={timeout_s:g}s", "--latency", url]
    text = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    found = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", text)
    p99 = float("nan")
    if found:
        p99 = float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]
    requests = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", text):
        errors += int(m.group(1))
    socket_errors = r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
    if m := re.search(socket_errors, text):
        errors += sum(map(int, m.groups()))
    return Wrk(rps, p99, requests, errors)


def baseline_source(work: Path, commit: str) -> Path:
    """The baseline commit's files (``git archive``), to run with ``PYTHONPATH``."""
    target = work / f"src-{commit}"
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def start_gateway(
    name: str, source: Path, plugins: Path, work: Path, env: dict[str, str] | None = None
) -> Server:
    cwd = work / f"cwd-{name}"
    cwd.mkdir()
    port = free_port()
    server = Server(
        name,
        gateway_argv(plugins, port, quiet=True),
        port=port,
        log_dir=work,
        env=gateway_env(PYTHONPATH=str(source), **(env or {})),
        cwd=cwd,
        cpu=SERVER_CPU,
    )
    server.wait_http("/_gateway/ready", timeout=120)
    return server


def hello_plugins(work: Path, kind: str, limits: str) -> Path:
    """One hello plugin ``p`` of ``kind``, with ``limits`` as its manifest (made once)."""
    root = work / f"plugins-{kind}-{'limits' if limits else 'default'}"
    if not root.exists():
        (root / "p").mkdir(parents=True)
        shutil.copy(APPS / f"hello_{kind}.py", root / "p" / "app.py")
        if limits:
            (root / "p" / "plugin.yaml").write_text(limits)
    return root


# --- 1. throughput ---------------------------------------------------------------------


def throughput(work: Path, baseline: Path, args: argparse.Namespace) -> list[list[object]]:
    servers: dict[tuple[str, str], Server] = {}
    try:
        for kind in ("fastapi", "flask"):
            variants = [
                ("baseline", baseline, ""),
                ("this tree", REPO, ""),
                ("this tree, limits on", REPO, LIMITS_ON),
            ]
            for label, source, limits in variants:
                plugins = hello_plugins(work, kind, limits)
                name = f"{kind}-{re.sub(r'[^a-z]+', '-', label)}"
                server = start_gateway(name, source, plugins, work)
                assert server.wait_http("/p/").content == HELLO_BODY
                servers[(kind, label)] = server
        results: dict[tuple[str, str], list[Wrk]] = {key: [] for key in servers}
        keys = list(servers)
        for rnd in range(args.rounds):
            order = keys if rnd % 2 == 0 else list(reversed(keys))
            for key in order:
                wrk(servers[key].base_url + "/p/", args.warmup)
                results[key].append(wrk_cpu(servers[key], "/p/", args.duration))
            print(f"round {rnd + 1}/{args.rounds} done", flush=True)
    finally:
        for server in servers.values():
            server.stop()
    rows: list[list[object]] = []
    for kind, label in results:
        runs = results[(kind, label)]
        base = results[(kind, "baseline")]
        rps = [r.rps for r in runs]
        ratios = [r.rps / b.rps for r, b in zip(runs, base, strict=True)]
        cpu_ratios = [r.cpu_us / b.cpu_us for r, b in zip(runs, base, strict=True)]
        rows.append(
            [
                f"{kind} plugin, {label}",
                f"{median(rps):,.0f}",
                f"{min(rps):,.0f}-{max(rps):,.0f}",
                f"{median(ratios):.3f}" if label != "baseline" else "1",
                f"{min(ratios):.2f}-{max(ratios):.2f}" if label != "baseline" else "",
                f"{median([r.cpu_us for r in runs]):.1f}",
                f"{median(cpu_ratios):.3f}" if label != "baseline" else "1",
            ]
        )
    return rows


# --- 2. other WSGI plugins while one is stuck ------------------------------------------


@dataclass
class Stuck:
    """A gateway with a stuck Flask plugin and another one, and its measurements."""

    name: str
    server: Server
    release: Path
    before: list[Wrk]
    during: list[Wrk]
    held: int = 0

    def entered(self) -> int:
        marker = self.release / "entered"
        return len(marker.read_text().split()) if marker.exists() else 0


def start_stuck(work: Path, name: str, source: Path) -> Stuck:
    key = re.sub(r"[^a-z0-9]+", "-", name)
    plugins = work / f"plugins-stuck-{key}"
    (plugins / "stuck").mkdir(parents=True)
    (plugins / "other").mkdir()
    shutil.copy(APPS / "stuck_flask.py", plugins / "stuck" / "app.py")
    shutil.copy(APPS / "hello_flask.py", plugins / "other" / "app.py")
    release = work / f"release-{key}"
    release.mkdir()
    server = start_gateway(
        f"stuck-{key}", source, plugins, work, {"BENCH_RELEASE_DIR": str(release)}
    )
    return Stuck(name, server, release, [], [])


def stuck_neighbours(
    work: Path, sources: list[tuple[str, Path]], args: argparse.Namespace
) -> list[list[object]]:
    """The other plugin's p99 on each gateway, rounds interleaved, before and while 40
    requests are stuck in the stuck plugin."""
    setups = [start_stuck(work, name, source) for name, source in sources]
    socks: list[socket.socket] = []
    locks = [(setup.release / "hold.lock").open("a") for setup in setups]
    try:
        for phase in ("before", "during"):
            if phase == "during":
                for lock in locks:
                    fcntl.flock(lock, fcntl.LOCK_EX)  # every /stuck/hold request waits for it
                for setup in setups:
                    for _ in range(STUCK):
                        sock = socket.create_connection(("127.0.0.1", setup.server.port))
                        sock.sendall(b"GET /stuck/hold HTTP/1.1\r\nHost: x\r\n\r\n")
                        socks.append(sock)
                for setup in setups:
                    wait_for(lambda s=setup: s.entered() >= 16, timeout=30)  # type: ignore[misc]
                time.sleep(0.5)  # a benchmark, not a test: let the rest reach a thread if they may
                for setup in setups:
                    setup.held = setup.entered()
            for rnd in range(args.rounds):
                for setup in setups if rnd % 2 == 0 else list(reversed(setups)):
                    url = setup.server.base_url + "/other/"
                    wrk(url, args.warmup, connections=8)
                    getattr(setup, phase).append(wrk(url, args.duration, connections=8))
    finally:
        for lock in locks:
            lock.close()  # lets every held request go
        for sock in socks:
            sock.close()
        for setup in setups:
            setup.server.stop()
    rows: list[list[object]] = []
    for setup in setups:
        before = median([w.p99_ms for w in setup.before])
        answered = [w for w in setup.during if w.requests]
        during = median([w.p99_ms for w in answered]) if answered else float("nan")
        rows.append(
            [
                setup.name,
                setup.held,
                f"{before:.1f}",
                f"{median([w.rps for w in setup.before]):,.0f}",
                f"{during:.1f}" if answered else "none answered",
                f"{median([w.rps for w in setup.during]):,.0f}",
                sum(w.errors for w in setup.during),
                f"{during / before:.2f}" if answered else "-",
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="8c578af", help="commit to compare with")
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--warmup", type=float, default=1)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--quick", action="store_true", help="3 s, 1 round")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite the doc")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.rounds = 3, 1
    ensure_wrk()
    started = time.monotonic()
    code = git_state()
    work = Path(tempfile.mkdtemp(prefix="gateway-containment-"))
    atexit.register(shutil.rmtree, work, True)
    baseline = baseline_source(work, args.baseline)
    rows = throughput(work, baseline, args)
    header = [
        "configuration",
        "req/s (median)",
        "min-max",
        "req/s vs baseline",
        "ratio range",
        "CPU us/request",
        "CPU vs baseline",
    ]
    print(text_table(header, rows), flush=True)
    stuck_header = [
        "code",
        "threads the stuck plugin holds",
        "other p99 ms before",
        "req/s before",
        "other p99 ms, 40 stuck",
        "req/s, 40 stuck",
        "errors/timeouts",
        "p99 ratio",
    ]
    stuck_rows = stuck_neighbours(
        work, [(f"baseline {args.baseline}", baseline), ("this tree", REPO)], args
    )
    print(text_table(stuck_header, stuck_rows), flush=True)
    elapsed = time.monotonic() - started
    section = "\n\n".join(
        [
            f"Generated by `python bench/containment.py {' '.join(argv or sys.argv[1:])}` "
            f"on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
            f"in {elapsed / 60:.1f} min.",
            f"Machine: {machine()}.  \nVersions: "
            + versions("uvicorn", "uvloop", "httptools", "starlette", "fastapi", "flask")
            + f".  \nCode measured: {code}; baseline: {args.baseline}.",
            f"### Throughput with the limits on\n\n{args.rounds} round(s) of "
            f"{args.duration:g} s, `wrk -t1 -c64`, gateway `--no-access-log`.\n\n"
            + markdown_table(header, rows),
            "### Another WSGI plugin while one Flask plugin has 40 stuck requests\n\n"
            f"`wrk -t1 -c8 --timeout 2s`, {args.rounds} round(s) of {args.duration:g} s on "
            "each gateway, before and during; the median of the rounds. Default pool "
            "(32 threads).\n\n" + markdown_table(stuck_header, stuck_rows),
        ]
    )
    if not args.no_doc:
        write_doc(DOC, "Reliability", BEGIN, END, section)
        print(f"wrote {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
