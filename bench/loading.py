"""Loading, measured: time to ready with many plugins, and what a load costs the others.

    python bench/loading.py                   # about 6 minutes
    python bench/loading.py --quick           # a smoke run
    python bench/loading.py --baseline REF    # compare with the gateway at git REF

Against real gateways (``python -m gateway run``), the current code and, side by side in the
same run, the code of a baseline commit (``--baseline``, default the commit before the
load-path work; checked out in a temporary git worktree and put first on ``PYTHONPATH``):

1. time to ready with 1,000 plugins: from starting the process to the first 200 of
   ``/_gateway/ready``, on a first start (empty data folder) and a second start (the same
   data folder: the bytecode cache is warm). Also the time to the first 200 of
   ``/_gateway/health`` (the process is up and serving, before the plugins are loaded).
2. other plugins' worst response delay while a plugin with a 20,000-function module
   (about 40,000 lines) reloads 10 times: a client GETs another plugin back to back, the
   largest latency and the p99 are what the event loop was held for.
3. readiness with a plugin whose import hangs (``load_timeout_s`` 5): bounded, and the
   other plugins serve meanwhile (the baseline never becomes ready; it is given 30 s).

Results go to stdout and into ``docs/RELIABILITY.md`` between its generated-section markers.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from common import (
    APPS,
    REPO,
    TOKEN,
    git_state,
    machine,
    markdown_table,
    median,
    percentile,
    text_table,
    write_doc,
)

from gateway.testing import GatewayProcess, wait_for

DOC = REPO / "docs" / "RELIABILITY.md"
BEGIN, END = "<!-- bench/loading.py: begin -->", "<!-- bench/loading.py: end -->"
DEFAULT_BASELINE = "8c578af"  # main before the load path became parallel and cached
HANG = (REPO / "tests" / "plugins" / "hang-import" / "app.py").read_text()


def big_module(version: str, functions: int) -> str:
    body = "".join(f"def f{i}(a, b):\n    return a * {i} + b\n" for i in range(functions))
    return f"VERSION = {version!r}\n{body}"


class Code:
    """Which gateway code a measurement runs: this checkout, or a baseline commit."""

    def __init__(self, label: str, src: Path | None) -> None:
        self.label = label
        self.src = src

    def env(self, **extra: str) -> dict[str, str]:
        env = {"PYTHONDONTWRITEBYTECODE": "1", **extra}
        if self.src is not None:
            env["PYTHONPATH"] = str(self.src)
        return env

    def start(self, workdir: Path, plugins: Path, **env: str) -> GatewayProcess:
        args = ["--no-watch", "--no-access-log"]
        return GatewayProcess(workdir, plugins, args, self.env(**env), token=TOKEN)


def many_plugins(folder: Path, count: int) -> Path:
    plugins = folder / "plugins"
    plugins.mkdir(parents=True)
    for i in range(count):
        (plugins / f"p{i:04d}").mkdir()
        shutil.copy(APPS / "hello_fastapi.py", plugins / f"p{i:04d}" / "app.py")
    return plugins


def time_to_ready(code: Code, workdir: Path, plugins: Path, timeout: float) -> tuple[float, float]:
    """Seconds from start to the first 200 of /_gateway/health, and of /_gateway/ready."""
    started = time.monotonic()
    gw = code.start(workdir, plugins)
    try:
        wait_for(lambda: gw.client.get("/_gateway/health").status_code == 200, timeout, 0.01)
        health = time.monotonic() - started
        wait_for(lambda: gw.client.get("/_gateway/ready").status_code == 200, timeout, 0.01)
        return health, time.monotonic() - started
    finally:
        gw.stop()


def readiness(codes: list[Code], work: Path, count: int, rounds: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for code in codes:
        samples: dict[str, list[float]] = {"first": [], "second": [], "health": []}
        for r in range(rounds):
            folder = work / f"ready-{code.label}-{r}"
            plugins = many_plugins(folder, count)
            for start in ("first", "second"):
                health, ready = time_to_ready(code, folder, plugins, 300)
                samples[start].append(ready)
                samples["health"].append(health)
            shutil.rmtree(folder)
        rows.append(
            [
                code.label,
                f"{median(samples['health']):.2f}",
                f"{median(samples['first']):.2f}",
                f"{median(samples['second']):.2f}",
                f"{min(samples['second']):.2f}-{max(samples['second']):.2f}",
            ]
        )
    return rows


def poll(client: httpx.Client, stop: threading.Event, latencies: list[float], limit: int) -> None:
    for _ in range(limit):
        if stop.is_set():
            return
        started = time.perf_counter()
        client.get("/other/")
        latencies.append(time.perf_counter() - started)


def reload_stall(code: Code, work: Path, reloads: int, functions: int) -> list[object]:
    folder = work / f"stall-{code.label}"
    plugins = folder / "plugins"
    (plugins / "other").mkdir(parents=True)
    shutil.copy(APPS / "hello_fastapi.py", plugins / "other" / "app.py")
    (plugins / "big").mkdir()
    (plugins / "big" / "app.py").write_text(
        "from . import big\n" + (APPS / "hello_fastapi.py").read_text()
    )
    (plugins / "big" / "big.py").write_text(big_module("v0", functions))
    gw = code.start(folder, plugins)
    latencies: list[float] = []
    stop = threading.Event()
    try:
        gw.wait_ready(timeout=120)
        poller = threading.Thread(target=poll, args=(gw.client, stop, latencies, 200_000))
        poller.start()
        reload_ms = []
        for i in range(1, reloads + 1):
            (plugins / "big" / "big.py").write_text(big_module(f"v{i}", functions))
            started = time.perf_counter()
            gw.admin.post("/_gateway/plugins/big/reload", timeout=120)
            reload_ms.append((time.perf_counter() - started) * 1000)
        stop.set()
        poller.join(60)
    finally:
        stop.set()
        gw.stop()
    return [
        code.label,
        len(latencies),
        f"{percentile(latencies, 50) * 1000:.1f}",
        f"{percentile(latencies, 99) * 1000:.1f}",
        f"{max(latencies) * 1000:.1f}",
        f"{median(reload_ms):.0f}",
    ]


def hung_import(code: Code, work: Path, load_timeout: float) -> list[object]:
    folder = work / f"hang-{code.label}"
    plugins = folder / "plugins"
    (plugins / "hang").mkdir(parents=True)
    (plugins / "hang" / "app.py").write_text(HANG)
    (plugins / "other").mkdir()
    shutil.copy(APPS / "hello_fastapi.py", plugins / "other" / "app.py")
    started = time.monotonic()
    gw = code.start(folder, plugins, GATEWAY_PLUGINS_LOAD_TIMEOUT_S=str(load_timeout))

    def seconds_until(path: str) -> str:
        try:
            wait_for(lambda: gw.client.get(path).status_code == 200, 30, 0.01)
        except AssertionError:
            return "never (gave up after 30 s)"
        return f"{time.monotonic() - started:.2f}"

    try:
        other = seconds_until("/other/")
        ready = seconds_until("/_gateway/ready")
    finally:
        (folder / "release-hang").touch()
        gw.stop()
    return [code.label, other, ready]


def baseline_checkout(ref: str, work: Path) -> Path:
    target = work / "baseline"
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(target), ref],
        check=True,
        capture_output=True,
    )
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git ref to compare with")
    parser.add_argument("--plugins", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reloads", type=int, default=10)
    parser.add_argument("--functions", type=int, default=20000)
    parser.add_argument("--quick", action="store_true", help="200 plugins, 1 round, 3 reloads")
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.plugins, args.rounds, args.reloads = 200, 1, 3
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="gateway-bench-loading-"))
    base = baseline_checkout(args.baseline, work)
    codes = [Code("this commit", None), Code(f"baseline {args.baseline}", base)]
    try:
        ready_rows = readiness(codes, work, args.plugins, args.rounds)
        stall_rows = [reload_stall(c, work, args.reloads, args.functions) for c in codes]
        hang_rows = [hung_import(c, work, 5.0) for c in codes]
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)])
        shutil.rmtree(work, ignore_errors=True)
    tables = [
        (
            f"Time to ready with {args.plugins:,} FastAPI plugins (s, median of {args.rounds})",
            [
                "code",
                "serving /health",
                "ready, first start",
                "ready, second start",
                "second: min-max",
            ],
            ready_rows,
        ),
        (
            f"Another plugin's latency while a {args.functions:,}-function module reloads "
            f"{args.reloads} times (ms)",
            ["code", "requests", "p50", "p99", "max (loop held)", "reload, median"],
            stall_rows,
        ),
        (
            "A plugin whose import hangs (load_timeout_s 5)",
            ["code", "other plugin serving after (s)", "ready after (s)"],
            hang_rows,
        ),
    ]
    for title, header, rows in tables:
        print(f"\n{title}\n{text_table(header, rows)}")
    elapsed = time.monotonic() - started
    print(f"\ntotal {elapsed / 60:.1f} min")
    if not args.no_doc:
        command = "python bench/loading.py " + " ".join(argv if argv is not None else sys.argv[1:])
        section = "\n\n".join(
            [
                f"Generated by `{command.strip()}` on {time.strftime('%Y-%m-%d %H:%M %Z')} "
                f"in {elapsed / 60:.1f} min. Machine: {machine()}. Code measured: {git_state()}.",
                *(f"#### {title}\n\n{markdown_table(h, r)}" for title, h, r in tables),
            ]
        )
        write_doc(DOC, "Reliability", BEGIN, END, section)
        print(f"wrote {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
