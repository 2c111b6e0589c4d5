"""A stand-in for the gateway's registry, for the isolation tests and benchmark: serves
:class:`gateway.isolation.IsolatedPlugin` versions under their prefixes with uvicorn.

    python tests/isolation_host.py CONFIG.json PORT

CONFIG: ``{"data_dir": ..., "drain_timeout_s": 5, "plugins": {name: {WorkerSpec fields}}}``.
It mounts each plugin the way the gateway mounts a version (``root_path`` grows by the
prefix), plus:

- ``GET /_host/status``: ``{name: {status, pids, restarts, recycles, rss_bytes, error}}``;
- ``POST /_host/reload/<name>``: start a new version, swap it in once ready, stop the old
  one (what the registry will do), answering ``{"seconds": ...}`` or the error;
- ``GET /_host/inprocess``: an in-process endpoint, to show the host itself keeps serving.

Replaced by the real wiring in ``gateway/registry.py``; kept small on purpose.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn

from gateway.errors import PluginError
from gateway.isolation import IsolatedPlugin, WorkerSpec


class Host:
    def __init__(self, config: dict[str, Any]) -> None:
        self.data_dir = Path(config["data_dir"])
        self.drain = float(config.get("drain_timeout_s", 5))
        self.specs: dict[str, WorkerSpec] = {}
        for name, fields in config["plugins"].items():
            fields = {**fields, "name": name, "data_dir": self.data_dir}
            fields["folder"] = Path(fields["folder"])
            self.specs[name] = WorkerSpec(**fields)
        self.versions: dict[str, IsolatedPlugin] = {}
        self.errors: dict[str, str] = {}
        self.statuses: dict[str, list[str]] = {name: [] for name in self.specs}
        self.lock = asyncio.Lock()

    def _new(self, name: str) -> IsolatedPlugin:
        return IsolatedPlugin(
            self.specs[name],
            on_status=self.statuses[name].append,
            drain_timeout_s=self.drain,
        )

    async def startup(self) -> None:
        async def one(name: str) -> None:
            version = self._new(name)
            try:
                await version.start(60)
            except PluginError as exc:
                self.errors[name] = f"{exc.kind}: {exc}"
            else:
                self.versions[name] = version

        await asyncio.gather(*(one(name) for name in self.specs))

    async def shutdown(self) -> None:
        await asyncio.gather(*(v.stop(self.drain) for v in self.versions.values()))

    async def reload(self, name: str) -> dict[str, Any]:
        async with self.lock:
            started = time.perf_counter()
            version = self._new(name)
            try:
                await version.start(60)
            except PluginError as exc:
                self.errors[name] = f"{exc.kind}: {exc}"
                return {"error": self.errors[name]}
            ready = time.perf_counter() - started
            old = self.versions.get(name)
            self.versions[name] = version  # the swap: one assignment
        if old is not None:
            await old.stop(self.drain)
        return {"seconds": ready, "pids": version.pids}

    def status(self) -> dict[str, Any]:
        out = {}
        for name in self.specs:
            version = self.versions.get(name)
            out[name] = {
                "status": version.status if version else "failed",
                "pids": version.pids if version else [],
                "restarts": version.restarts if version else 0,
                "recycles": version.recycles if version else 0,
                "rss_bytes": version.rss_bytes if version else 0,
                "inflight": version.inflight if version else 0,
                "statuses": self.statuses[name],
                "error": self.errors.get(name),
            }
        return out

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await self.startup()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await self.shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return
        path = scope["path"]
        if path.startswith("/_host/"):
            await self._control(scope, receive, send)
            return
        for name, spec in self.specs.items():
            if path == spec.prefix or path.startswith(spec.prefix + "/"):
                version = self.versions.get(name)
                if version is None:
                    break
                scope["app_root_path"] = scope.get("root_path", "")
                scope["root_path"] = scope.get("root_path", "") + spec.prefix
                await version.app(scope, receive, send)
                return
        await _json(send, 404, {"detail": "Not Found"}, scope)

    async def _control(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope["path"]
        if path == "/_host/status":
            await _json(send, 200, self.status(), scope)
        elif path == "/_host/inprocess":
            await _json(send, 200, {"inprocess": True}, scope)
        elif path.startswith("/_host/reload/"):
            await _json(send, 200, await self.reload(path.rsplit("/", 1)[1]), scope)
        else:
            await _json(send, 404, {"detail": "Not Found"}, scope)


async def _json(send: Any, status: int, data: Any, scope: Any) -> None:
    if scope["type"] != "http":
        await send({"type": "websocket.close", "code": 1000})
        return
    body = json.dumps(data).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    port = int(sys.argv[2])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(name)s: %(message)s")
    uvicorn.run(
        Host(config),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
