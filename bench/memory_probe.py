"""How a replaced version's memory is given back, and what that costs the event loop.

    python bench/memory_probe.py [--cycles 300] [--bystanders 1000]

Runs a :class:`gateway.Gateway` in-process (no server; ``--bystanders`` FastAPI plugins
loaded besides) and reloads one plugin that holds 1 MiB per version ``--cycles`` times, each
strategy in a fresh process:

- ``as-is``: the gateway as it is;
- ``no-reclaim``: ``Registry._reclaim`` (a full ``gc.collect()`` + ``malloc_trim`` after
  each retirement) patched out, i.e. wait for the cyclic GC;
- ``clear-dicts``: no collection; instead each released module's ``__dict__`` is emptied,
  which breaks the module <-> function cycles so reference counting frees the version at
  once, then ``malloc_trim``. A proposed gateway change, patched in here, never in gateway/.

At each checkpoint: RSS, and how many versions' module dicts are still allocated
(``gc.get_objects()`` lists unreachable objects the collector has not reached yet). Per
strategy: the time the reclaim step held the event loop per reload (median and max).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import APPS, markdown_table, median, rss_mb, text_table
from reload import plugin_source

from gateway import Gateway
from gateway.config import Config

MODES = ("as-is", "no-reclaim", "clear-dicts")


def versions_in_memory() -> int:
    """Module dicts of plugin versions still allocated (reachable or awaiting collection)."""
    return sum(1 for o in gc.get_objects() if type(o) is dict and "BALLAST" in o)


def patch(mode: str, pauses: list[float]) -> None:
    """Install ``mode`` and time the reclaim step (what runs on the loop after a release)."""
    from gateway import registry
    from gateway.namespace import Namespace

    reclaim = getattr(registry.Registry, "_reclaim", None)
    trim = registry._find_malloc_trim() if hasattr(registry, "_find_malloc_trim") else None
    release = Namespace.release

    def timed(step: Any) -> Any:
        def run(*args: Any) -> Any:
            started = time.perf_counter()
            try:
                return step(*args)
            finally:
                pauses.append(time.perf_counter() - started)

        return run

    if mode == "as-is":
        if reclaim is not None:
            registry.Registry._reclaim = timed(reclaim)  # type: ignore[method-assign]
        return
    if reclaim is not None:
        registry.Registry._reclaim = lambda self: None  # type: ignore[method-assign]
    if mode == "clear-dicts":

        def release_and_clear(self: Namespace) -> None:
            modules = [sys.modules.get(name) for name in self.modules()]
            release(self)
            for module in modules:
                if module is not None:
                    module.__dict__.clear()
            if trim is not None:
                trim(0)

        Namespace.release = timed(release_and_clear)  # type: ignore[method-assign]


async def reloads(cycles: int, checkpoints: set[int], mode: str, bystanders: int) -> dict[str, Any]:
    pauses: list[float] = []
    patch(mode, pauses)
    root = Path(tempfile.mkdtemp(prefix="gateway-memory-probe-"))
    (root / "mem").mkdir()
    for i in range(bystanders):
        (root / f"x{i:04d}").mkdir()
        shutil.copy(APPS / "hello_fastapi.py", root / f"x{i:04d}" / "app.py")
    config = Config.model_validate(
        {"plugins": {"dir": str(root), "watch": False, "drain_timeout_s": 1}}
    )
    gateway = Gateway(config)
    await gateway.startup_runtime()
    await gateway.registry.scan()
    pauses.clear()
    rows = []
    try:
        for i in range(cycles + 1):
            (root / "mem" / "app.py").write_text(plugin_source(f"v{i}", 1 << 20))
            await gateway.registry.load("mem")
            await asyncio.sleep(0.01)  # the replaced version drains and is released
            if i in checkpoints:
                rows.append((i, rss_mb(os.getpid()), versions_in_memory()))
    finally:
        await gateway.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    return {"rows": rows, "pauses": pauses}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--bystanders", type=int, default=0, help="other plugins loaded")
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    checkpoints = {10, *range(50, args.cycles + 1, 50)}
    if args.mode:  # one strategy, in a fresh process, so that the heaps do not mix
        out = asyncio.run(reloads(args.cycles, checkpoints, args.mode, args.bystanders))
        print(json.dumps(out))
        return 0
    results = {}
    for mode in MODES:
        cmd = [sys.executable, __file__, "--mode", mode]
        cmd += ["--cycles", str(args.cycles), "--bystanders", str(args.bystanders)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    header = ["reloads"]
    for mode in MODES:
        header += [f"RSS MiB, {mode}", f"versions in memory, {mode}"]
    rows = []
    for i, (n, *_) in enumerate(results[MODES[0]]["rows"]):
        row: list[object] = [n]
        for mode in MODES:
            _, rss, alive = results[mode]["rows"][i]
            row += [f"{rss:.1f}", alive]
        rows.append(row)
    pause_header = ["strategy", "loop held per reload: median ms", "max ms"]
    pause_rows = [
        [
            mode,
            f"{median(results[mode]['pauses']) * 1000:.2f}" if results[mode]["pauses"] else "0",
            f"{max(results[mode]['pauses']) * 1000:.2f}" if results[mode]["pauses"] else "0",
        ]
        for mode in MODES
    ]
    print(f"{args.bystanders} other plugins loaded")
    print(text_table(header, rows))
    print()
    print(text_table(pause_header, pause_rows))
    print()
    print(markdown_table(header, rows))
    print()
    print(markdown_table(pause_header, pause_rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
