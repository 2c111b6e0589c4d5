"""How a replaced version's memory is given back, and what that costs the event loop.

    python bench/memory_probe.py [--cycles 300] [--bystanders 1000]

Runs a :class:`gateway.registry.Registry` in-process (no server; ``--bystanders`` FastAPI
plugins loaded besides) and reloads one plugin that holds 1 MiB per version ``--cycles``
times, each strategy in a fresh process:

- ``as-is``: the registry as the gateway builds it (released modules emptied, so reference
  counting frees a version at once; glibc's heap trimmed after each burst of releases);
- ``no-trim``: the same without the trim (``reclaim`` does nothing), to show what it is for.

The registry is built from its public parts, with ``reclaim`` passed in (timed, or a no-op):
nothing of the gateway is patched. At each checkpoint: RSS, and how many versions' module
dicts are still allocated (``gc.get_objects()`` lists unreachable objects the collector has
not reached yet). Per strategy: the time the reclaim step held the event loop per reload.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from common import APPS, markdown_table, median, rss_mb, text_table
from reload import plugin_source

from gateway.config import Config
from gateway.extensions import build_plugin_manager
from gateway.loader import LoadServices
from gateway.memory import trim_heap
from gateway.plugin import PluginInfo
from gateway.registry import Registry, RegistrySettings
from gateway.routing import PrefixTable

MODES = ("as-is", "no-trim")


def versions_in_memory() -> int:
    """Module dicts of plugin versions still allocated (reachable or awaiting collection)."""
    return sum(1 for o in gc.get_objects() if type(o) is dict and "BALLAST" in o)


class NoEvents:
    def plugin_loaded(self, info: PluginInfo) -> None:
        pass

    def plugin_failed(self, info: PluginInfo) -> None:
        pass

    def plugin_unloaded(self, info: PluginInfo) -> None:
        pass

    def plugin_restarting(self, info: PluginInfo) -> None:
        pass

    def plugin_recovered(self, info: PluginInfo) -> None:
        pass


def reclaim_for(mode: str, pauses: list[float]) -> Any:
    """What the registry calls after a burst of releases, timed."""

    def timed() -> None:
        started = time.perf_counter()
        if mode == "as-is":
            trim_heap()
        pauses.append(time.perf_counter() - started)

    return timed


async def reloads(cycles: int, checkpoints: set[int], mode: str, bystanders: int) -> dict[str, Any]:
    pauses: list[float] = []
    root = Path(tempfile.mkdtemp(prefix="gateway-memory-probe-"))
    (root / "mem").mkdir()
    for i in range(bystanders):
        (root / f"x{i:04d}").mkdir()
        shutil.copy(APPS / "hello_fastapi.py", root / f"x{i:04d}" / "app.py")
    config = Config.model_validate(
        {"plugins": {"dir": str(root), "watch": False, "drain_timeout_s": 1}}
    )
    plugin_manager, _ = build_plugin_manager(entry_points=False)
    executor = ThreadPoolExecutor(max_workers=4)
    registry = Registry(
        RegistrySettings.from_config(config, root),
        PrefixTable(),
        plugin_manager.hook,
        LoadServices(executor, config, root / "data"),
        NoEvents(),
        reclaim=reclaim_for(mode, pauses),
    )
    await registry.scan()
    pauses.clear()
    rows = []
    try:
        for i in range(cycles + 1):
            (root / "mem" / "app.py").write_text(plugin_source(f"v{i}", 1 << 20))
            await registry.load("mem")
            await registry.settled()  # the replaced version drained and was released
            if i in checkpoints:
                rows.append((i, rss_mb(os.getpid()), versions_in_memory()))
    finally:
        await registry.close()
        executor.shutdown()
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
