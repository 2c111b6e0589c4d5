"""Hot reload, measured: change-to-live latency, failed requests under load, memory.

    python bench/reload.py              # about 4 minutes
    python bench/reload.py --quick      # a smoke run

Against a real gateway (``python -m gateway run``, watching a temporary plugins folder) and,
for comparison in the same run, ``uvicorn --reload`` serving the same small Starlette app:

1. change-to-live latency: from the moment a change is on disk (a staged ``.name.tmp``
   folder renamed into place; a one-file edit) until a GET, polled every 5 ms, first answers
   the new text. ``uvicorn --reload`` is measured on the edit only: a dropped-in folder would
   be a new module it does not serve.
2. failed requests while the plugin is rewritten 100 times under load (client threads GET it
   continuously; each rewrite waits for the new generation through the admin API).
3. resident memory after 10 and after 500 reload cycles of a plugin that allocates 1 MiB per
   version, so a version that is not released shows.

Results go to stdout and into ``docs/RELOAD.md`` between its generated-section markers.
"""

from __future__ import annotations

import argparse
import atexit
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
from common import (
    APPS,
    PYTHON,
    REPO,
    TOKEN,
    Server,
    free_port,
    git_state,
    machine,
    markdown_table,
    percentile,
    rss_mb,
    text_table,
    versions,
    wait_for,
    write_doc,
)

from gateway.testing import GatewayProcess

DOC = REPO / "docs" / "RELOAD.md"
BEGIN, END = "<!-- bench/reload.py: begin -->", "<!-- bench/reload.py: end -->"
POLL_S = 0.005

PLUGIN = """\
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

VERSION = {version!r}
# Memory held by this version, so that a version which is never released shows in RSS.
BALLAST = b"v" * {ballast}


async def index(request):
    return PlainTextResponse(VERSION)


app = Starlette(routes=[Route("/", index)])
"""


def plugin_source(version: str, ballast: int = 0) -> str:
    return PLUGIN.format(version=version, ballast=ballast)


def default_settle_ms() -> int:
    from gateway.config import load_config

    return load_config(REPO / "config.yaml").plugins.settle_ms


# --- polling -----------------------------------------------------------------------------


def first_live(
    client: httpx.Client, url: str, expected: str, t0: float, timeout: float = 15
) -> float:
    """Seconds from ``t0`` until ``GET url`` first answers ``expected``; polled every 5 ms."""
    deadline = t0 + timeout
    tick = t0
    while True:
        try:
            response = client.get(url)
            if response.status_code == 200 and response.text == expected:
                return time.perf_counter() - t0
        except httpx.HTTPError:
            pass  # uvicorn --reload: the server is restarting
        now = time.perf_counter()
        if now > deadline:
            raise RuntimeError(f"{url} did not answer {expected!r} within {timeout}s")
        tick = max(tick + POLL_S, now)
        time.sleep(max(0.0, tick - time.perf_counter()))


class Gateway:
    """The gateway under test (:class:`gateway.testing.GatewayProcess`), watching
    ``plugins``, with what the measurements below ask of it."""

    def __init__(self, work: Path, settle_ms: int, extra_plugins: int = 0) -> None:
        self.plugins = work / "plugins"
        self.plugins.mkdir()
        for i in range(extra_plugins):  # bystanders: a bigger heap, as in a real deployment
            (self.plugins / f"x{i:04d}").mkdir()
            shutil.copy(APPS / "hello_fastapi.py", self.plugins / f"x{i:04d}" / "app.py")
        cwd = work / "gateway"
        cwd.mkdir()
        env = {"GATEWAY_PLUGINS_SETTLE_MS": str(settle_ms), "PYTHONDONTWRITEBYTECODE": "1"}
        self.process = GatewayProcess(cwd, self.plugins, env=env, token=TOKEN)
        self.process.wait_ready(timeout=600)
        self.client = self.process.client
        self.base_url = self.process.base_url

    def info(self, name: str) -> dict[str, object] | None:
        response = self.process.admin.get(f"/_gateway/plugins/{name}")
        return response.json() if response.status_code == 200 else None  # type: ignore[no-any-return]

    def wait_generation(self, name: str, generation: int, timeout: float = 15) -> dict[str, object]:
        def done() -> dict[str, object] | None:
            info = self.info(name)
            ok = info and info["status"] == "active" and int(info["generation"]) >= generation  # type: ignore[call-overload]
            return info if ok else None

        return wait_for(done, timeout, interval=0.01, what=f"{name} generation {generation}")

    def wait_gone(self, name: str, timeout: float = 15) -> None:
        wait_for(lambda: self.info(name) is None, timeout, interval=0.01, what=f"{name} unloaded")

    def write(self, name: str, version: str, ballast: int = 0) -> None:
        (self.plugins / name / "app.py").write_text(plugin_source(version, ballast))

    def stage_and_rename(self, name: str, version: str) -> float:
        staging = self.plugins / f".{name}.tmp"
        staging.mkdir()
        (staging / "app.py").write_text(plugin_source(version))
        staging.rename(self.plugins / name)
        return time.perf_counter()

    def remove(self, name: str) -> None:
        trash = self.plugins / f".{name}.trash"
        (self.plugins / name).rename(trash)
        shutil.rmtree(trash)

    def released(self, name: str, generation: int) -> bool:
        return (
            f"plugin {name}: generation {generation} shut down and released" in self.process.log()
        )

    def stop(self) -> None:
        self.process.stop()


def swap_delay(info: dict[str, object], wall_t0: float) -> float:
    """Seconds from ``wall_t0`` (time.time()) to the ``loaded_at`` the admin API reports."""
    loaded = datetime.fromisoformat(str(info["loaded_at"])).timestamp()
    return loaded - wall_t0


# --- 1. latency --------------------------------------------------------------------------


@dataclass
class Latency:
    label: str
    live: list[float]  # seconds until the new content is served
    swapped: list[float]  # seconds until the registry swapped it in (gateway only)


def gateway_drop_in(gw: Gateway, trials: int) -> Latency:
    live, swapped = [], []
    for i in range(trials):
        name = f"drop{i:03d}"
        version = f"{name}-v1"
        wall = time.time()
        t0 = gw.stage_and_rename(name, version)
        live.append(first_live(gw.client, f"/{name}/", version, t0))
        swapped.append(swap_delay(gw.wait_generation(name, 1), wall))
        gw.remove(name)
        gw.wait_gone(name)
    return Latency("gateway, drop-in (stage .name.tmp, rename)", live, swapped)


def gateway_edit(gw: Gateway, trials: int) -> Latency:
    name = "edit"
    (gw.plugins / name).mkdir()
    gw.write(name, "edit-v0")
    gw.wait_generation(name, 1)
    live, swapped = [], []
    for i in range(1, trials + 1):
        version = f"edit-v{i}"
        wall = time.time()
        gw.write(name, version)
        t0 = time.perf_counter()
        live.append(first_live(gw.client, f"/{name}/", version, t0))
        swapped.append(swap_delay(gw.wait_generation(name, i + 1), wall))
        time.sleep(0.05)
    return Latency("gateway, one-file edit", live, swapped)


class UvicornReload:
    """``uvicorn --reload`` serving the same Starlette app from a folder."""

    def __init__(self, work: Path) -> None:
        self.folder = work / "uvicorn-app"
        self.folder.mkdir()
        self.app_file = self.folder / "app.py"
        self.app_file.write_text(plugin_source("uv-v0"))
        port = free_port()
        argv = [PYTHON, "-m", "uvicorn", "app:app", "--reload", "--reload-dir", str(self.folder)]
        argv += ["--app-dir", str(self.folder), "--port", str(port), "--no-access-log"]
        argv += ["--http", "httptools", "--loop", "uvloop", "--log-level", "warning"]
        self.server = Server("uvicorn-reload", argv, port=port, log_dir=work, cwd=self.folder)
        self.server.wait_http("/")
        self.client = httpx.Client(base_url=self.server.base_url, timeout=1)
        self.version = 0

    def edit(self) -> tuple[str, float]:
        self.version += 1
        version = f"uv-v{self.version}"
        self.app_file.write_text(plugin_source(version))
        return version, time.perf_counter()

    def stop(self) -> None:
        self.client.close()
        self.server.stop()


def uvicorn_edit(uv: UvicornReload, trials: int) -> Latency:
    live = []
    for _ in range(trials):
        version, t0 = uv.edit()
        live.append(first_live(uv.client, "/", version, t0))
        time.sleep(0.05)
    return Latency("uvicorn --reload, one-file edit", live, [])


# --- 2. failed requests under load --------------------------------------------------------


@dataclass
class LoadResult:
    label: str
    reloads: int
    requests: int
    failed: int
    kinds: Counter[str]
    seconds: float
    latencies: list[float]  # seconds, every request


class Hammer:
    """``threads`` clients GETting ``url`` continuously, counting what they get and timing
    each request."""

    def __init__(self, url: str, threads: int, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self.stop = threading.Event()
        self.counts: list[Counter[str]] = [Counter() for _ in range(threads)]
        self.times: list[list[float]] = [[] for _ in range(threads)]
        self.threads = [
            threading.Thread(target=self._run, args=(c, t), daemon=True)
            for c, t in zip(self.counts, self.times, strict=True)
        ]
        self.started = 0.0

    def _run(self, counts: Counter[str], times: list[float]) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                t0 = time.perf_counter()
                try:
                    response = client.get(self.url)
                except httpx.HTTPError as exc:
                    counts[type(exc).__name__] += 1
                    continue
                finally:
                    times.append(time.perf_counter() - t0)
                ok = response.status_code == 200 and response.text.startswith(self.prefix)
                counts["ok" if ok else f"HTTP {response.status_code}"] += 1

    def __enter__(self) -> Hammer:
        self.started = time.perf_counter()
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def result(self, label: str, reloads: int) -> LoadResult:
        counts: Counter[str] = sum(self.counts, Counter())
        return LoadResult(
            label,
            reloads,
            sum(counts.values()),
            sum(n for kind, n in counts.items() if kind != "ok"),
            counts,
            time.perf_counter() - self.started,
            [t for times in self.times for t in times],
        )


def gateway_under_load(gw: Gateway, reloads: int, threads: int) -> list[LoadResult]:
    """The same load without reloads (a baseline for latency), then with ``reloads``."""
    name = "load"
    (gw.plugins / name).mkdir()
    gw.write(name, "load-v0")
    start_gen = int(gw.wait_generation(name, 1)["generation"])  # type: ignore[call-overload]
    url = f"{gw.base_url}/{name}/"
    with Hammer(url, threads, "load-v") as hammer:
        time.sleep(5)
    baseline = hammer.result(f"gateway, {threads} client threads, no reloads", 0)
    with Hammer(url, threads, "load-v") as hammer:
        time.sleep(0.5)
        for i in range(1, reloads + 1):
            gw.write(name, f"load-v{i}")
            gw.wait_generation(name, start_gen + i)
        time.sleep(0.5)
    final_gen = int(gw.info(name)["generation"])  # type: ignore[index, call-overload]
    return [baseline, hammer.result(f"gateway, {threads} client threads", final_gen - start_gen)]


def uvicorn_under_load(uv: UvicornReload, reloads: int, threads: int) -> LoadResult:
    with Hammer(f"{uv.server.base_url}/", threads, "uv-v") as hammer:
        time.sleep(0.5)
        for _ in range(reloads):
            version, t0 = uv.edit()
            first_live(uv.client, "/", version, t0)
        time.sleep(0.5)
    return hammer.result(f"uvicorn --reload, {threads} client threads", reloads)


# --- 3. memory ---------------------------------------------------------------------------


def gateway_memory(
    gw: Gateway, cycles: int, checkpoints: list[int], ballast: int
) -> list[tuple[int, float, float, float]]:
    """(cycles, RSS, min RSS, max RSS since the previous checkpoint) at each checkpoint.

    RSS is sampled after every cycle; at a checkpoint the previous version has been
    reported released in the gateway's log first.
    """
    name = "mem"
    (gw.plugins / name).mkdir()
    gw.write(name, "mem-v0", ballast)
    base = int(gw.wait_generation(name, 1)["generation"])  # type: ignore[call-overload]
    points = []
    window: list[float] = []
    for i in range(1, cycles + 1):
        gw.write(name, f"mem-v{i}", ballast)
        gen = int(gw.wait_generation(name, base + i)["generation"])  # type: ignore[call-overload]
        if i in checkpoints:
            try:
                wait_for(lambda g=gen: gw.released(name, g - 1), 10, interval=0.05)
            except RuntimeError:
                print(f"  (generation {gen - 1} not reported released after 10 s)")
            time.sleep(0.3)
        window.append(rss_mb(gw.process.pid))
        if i in checkpoints:
            points.append((i, window[-1], min(window), max(window)))
            print(
                f"  after {i:>3} reloads: RSS {window[-1]:.1f} MiB "
                f"(since the last checkpoint {min(window):.1f}-{max(window):.1f})",
                flush=True,
            )
            window = []
    return points


# --- report ------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--settle-ms",
        type=int,
        default=default_settle_ms(),
        help="the gateway's plugins.settle_ms (default: config.yaml's)",
    )
    parser.add_argument("--trials", type=int, default=40, help="latency trials per case")
    parser.add_argument("--reloads", type=int, default=100, help="reloads under load (gateway)")
    parser.add_argument(
        "--uvicorn-reloads",
        type=int,
        default=20,
        help="reloads under load (uvicorn --reload, for comparison)",
    )
    parser.add_argument("--threads", type=int, default=8, help="client threads under load")
    parser.add_argument("--cycles", type=int, default=500, help="reload cycles for memory")
    parser.add_argument(
        "--extra-plugins",
        type=int,
        default=0,
        help="FastAPI plugins mounted besides the ones under test (a bigger process)",
    )
    parser.add_argument("--quick", action="store_true", help="10 trials, 20 reloads, 60 cycles")
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/RELOAD.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.reloads, args.uvicorn_reloads, args.cycles = 10, 20, 5, 60
    checkpoints = sorted({10, *range(100, args.cycles, 100), args.cycles})
    started = time.monotonic()
    code = git_state()  # at the start: others may commit while this runs
    work = Path(tempfile.mkdtemp(prefix="gateway-reload-bench-"))
    atexit.register(shutil.rmtree, work, True)
    print(f"settle_ms={args.settle_ms}; work folder {work}", flush=True)
    gw = Gateway(work, args.settle_ms, args.extra_plugins)
    uv = UvicornReload(work)
    try:
        print("1. change-to-live latency", flush=True)
        latencies = [gateway_drop_in(gw, args.trials), gateway_edit(gw, args.trials)]
        latencies.append(uvicorn_edit(uv, args.trials))
        print("2. failed requests during reloads under load", flush=True)
        loads = gateway_under_load(gw, args.reloads, args.threads)
        loads.append(uvicorn_under_load(uv, args.uvicorn_reloads, args.threads))
        print("3. memory over reloads", flush=True)
        memory = gateway_memory(gw, args.cycles, checkpoints, ballast=1 << 20)
    finally:
        uv.stop()
        gw.stop()
    elapsed = time.monotonic() - started

    lat_header = ["change", "trials", "p50 ms", "p99 ms", "max ms", "swap p50 ms", "target"]
    lat_rows = []
    for lat in latencies:
        gateway_row = lat.label.startswith("gateway")
        lat_rows.append(
            [
                lat.label,
                len(lat.live),
                ms(percentile(lat.live, 50)),
                ms(percentile(lat.live, 99)),
                ms(max(lat.live)),
                ms(percentile(lat.swapped, 50)) if lat.swapped else "",
                "p50 <= 250" if gateway_row else "",
            ]
        )
    gw_edit = percentile(latencies[1].live, 50)
    uv_edit = percentile(latencies[2].live, 50)
    load_header = [
        "under load",
        "reloads",
        "requests",
        "failed",
        "failures by kind",
        "seconds",
        "p50 ms",
        "p99 ms",
        "max ms",
    ]
    load_rows = [
        [
            r.label,
            r.reloads,
            r.requests,
            r.failed,
            ", ".join(f"{k}: {n}" for k, n in sorted(r.kinds.items()) if k != "ok") or "none",
            f"{r.seconds:.0f}",
            ms(percentile(r.latencies, 50)),
            ms(percentile(r.latencies, 99)),
            ms(max(r.latencies)),
        ]
        for r in loads
    ]
    mem_header = [
        "reload cycles",
        "gateway RSS MiB",
        "growth since 10 cycles",
        "min-max RSS since the previous row",
    ]
    at10 = memory[0][1]
    mem_rows = [
        [n, f"{mb:.1f}", f"{mb - at10:+.1f}", f"{lo:.1f}-{hi:.1f}"] for n, mb, lo, hi in memory
    ]
    growth = memory[-1][1] - at10

    print()
    print(text_table(lat_header, lat_rows))
    print(f"edit p50, gateway / uvicorn --reload: {gw_edit / uv_edit:.2f}")
    print()
    print(text_table(load_header, load_rows))
    print()
    print(text_table(mem_header, mem_rows))
    print(
        f"growth {at10:.1f} -> {memory[-1][1]:.1f} MiB = {growth:+.1f} MiB "
        f"(target < 10 MiB; each version holds 1 MiB)"
    )
    print(f"\ntotal {elapsed / 60:.1f} min")

    command = "python bench/reload.py " + " ".join(argv if argv is not None else sys.argv[1:])
    section = "\n\n".join(
        [
            f"Generated by `{command.strip()}` on {time.strftime('%Y-%m-%d %H:%M %Z')} "
            f"in {elapsed / 60:.1f} min.",
            f"Machine: {machine()}.  \nCode measured: {code}.  \nVersions: "
            f"{versions('uvicorn', 'watchfiles', 'starlette', 'a2wsgi')}.  \n"
            f"Gateway: `python -m gateway run --plugins DIR --port P` (watching), "
            f"`GATEWAY_PLUGINS_SETTLE_MS={args.settle_ms}`; plugin: a Starlette app answering "
            "its version as text"
            + (
                f"; {args.extra_plugins} other FastAPI plugins mounted"
                if args.extra_plugins
                else ""
            )
            + ".",
            "### Change-to-live latency\n\nFrom the rename (drop-in) or the end of the write "
            "(edit) until a GET polled every 5 ms first answers the new text. "
            "*swap* is the same start to the `loaded_at` the admin API reports (the "
            "route-table swap). uvicorn --reload has no drop-in case: a new folder is a "
            "new module it does not serve.\n\n"
            + markdown_table(lat_header, lat_rows)
            + f"\n\nEdit p50, gateway / uvicorn --reload: **{gw_edit / uv_edit:.2f}**.",
            f"### Failed requests during reloads under load\n\n{args.threads} client threads "
            "(httpx, keep-alive) GET the plugin continuously while its app.py is rewritten; "
            "each rewrite waits for the new generation (gateway: admin API; uvicorn: the "
            "new text). A request fails if it errors or does not answer 200 with one of "
            "the versions' text.\n\n" + markdown_table(load_header, load_rows),
            "### Memory over reloads\n\nThe plugin holds 1 MiB per version (`BALLAST`). Each cycle "
            "rewrites app.py and waits for the new generation; at each checkpoint the previous "
            "version has been reported released in the gateway's log, then VmRSS is read from "
            "/proc.\n\n"
            + markdown_table(mem_header, mem_rows)
            + f"\n\nGrowth from {memory[0][0]} to {memory[-1][0]} cycles: "
            f"**{growth:+.1f} MiB** (target under 10 MiB).",
        ]
    )
    if not args.no_doc:
        write_doc(DOC, "Hot reload, measured", BEGIN, END, section)
        print(f"wrote {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
