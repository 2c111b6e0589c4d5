"""Where a request's time goes in the gateway: in-process costs, then py-spy under load.

    python bench/profile.py             # about 3 minutes; needs py-spy (pip install py-spy)
    python bench/profile.py --out DIR   # keep flame graphs (SVG) and raw stacks

1. In-process, no network: the microseconds one request costs when the hello app is called
   directly, through the gateway's root app, and (Flask) through plain a2wsgi and through
   the gateway's WSGI adapter, on uvloop, one request at a time and 64 at once. The
   difference is what the gateway adds.
2. Under ``wrk -t1 -c64`` load (server on core 0, wrk and py-spy on core 1): ``py-spy record
   --gil --format raw`` of the gateway serving the FastAPI and the Flask plugin, folded into
   a few buckets (parser and protocol, gateway dispatch, the app, logging, a2wsgi's
   hand-offs), as a share of the samples that held the GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from common import (
    APPS,
    HELLO_BODY,
    Server,
    free_port,
    gateway_argv,
    gateway_env,
    text_table,
)

SERVER_CPU, CLIENT_CPU = 0, 1
#: py-spy as installed next to this Python (pip install py-spy), else from PATH
PY_SPY = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")


# --- 1. in-process ---------------------------------------------------------------------

SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.4"},
    "http_version": "1.1",
    "server": ("127.0.0.1", 8000),
    "client": ("127.0.0.1", 50000),
    "scheme": "http",
    "method": "GET",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk"), (b"accept", b"*/*")],
    "state": {},
}


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def _call(app: Any, path: str) -> Callable[[], Awaitable[bytes]]:
    async def one() -> bytes:
        body = bytearray()

        async def send(message: dict[str, Any]) -> None:
            body.extend(message.get("body", b""))

        scope = dict(SCOPE, path=path, raw_path=path.encode(), state={})
        await app(scope, _receive, send)
        return bytes(body)

    return one


async def _per_request_us(one: Callable[[], Awaitable[bytes]], n: int, concurrency: int) -> float:
    assert await one() == HELLO_BODY
    for _ in range(200):  # warm-up
        await one()

    async def client(count: int) -> None:
        for _ in range(count):
            await one()

    started = time.perf_counter()
    await asyncio.gather(*(client(n // concurrency) for _ in range(concurrency)))
    return (time.perf_counter() - started) / (n // concurrency * concurrency) * 1e6


def _load_app(file: Path) -> Any:
    """``app`` of a bench app file, imported as a module of its own."""
    spec = importlib.util.spec_from_file_location(f"bench_app_{file.stem}", file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def in_process(n: int, repeats: int, plugins_count: int) -> list[list[object]]:
    import uvloop

    from gateway import Gateway
    from gateway.config import Config
    from gateway.wsgi import WSGIAdapter

    work = Path(tempfile.mkdtemp(prefix="gateway-profile-"))
    for name, source in (("fa", "hello_fastapi.py"), ("fl", "hello_flask.py")):
        (work / name).mkdir()
        shutil.copy(APPS / source, work / name / "app.py")
    (work / "fn").mkdir()
    shutil.copy(APPS / "hello_functions.py", work / "fn" / "app.py")
    (work / "fn" / "plugin.yaml").write_text("framework: functions\n")
    many_dir = Path(tempfile.mkdtemp(prefix="gateway-profile-many-"))
    for i in range(plugins_count):
        (many_dir / f"p{i:04d}").mkdir(parents=True)
        shutil.copy(APPS / "hello_fastapi.py", many_dir / f"p{i:04d}" / "app.py")

    async def run() -> list[list[object]]:
        gateway = Gateway(Config.model_validate({"plugins": {"dir": str(work), "watch": False}}))
        gateway.events.started()
        await gateway.registry.scan()
        # The same apps the plugins serve, imported on their own to be called without the gateway.
        fastapi_app = _load_app(APPS / "hello_fastapi.py")
        flask_app = _load_app(APPS / "hello_flask.py")
        wrapped_flask = WSGIAdapter(flask_app, gateway.executor)
        from a2wsgi import WSGIMiddleware
        from a2wsgi.wsgi import build_environ

        a2wsgi_flask = WSGIMiddleware(flask_app, workers=32)

        def flask_direct() -> Callable[[], Awaitable[bytes]]:
            # The WSGI app called on the event loop thread: no adapter, no thread.
            async def one() -> bytes:
                scope = dict(SCOPE, path="/", raw_path=b"/")
                environ = build_environ(scope, None)  # type: ignore[arg-type]
                status: list[str] = []
                chunks = flask_app(environ, lambda s, h, e=None: status.append(s))
                return b"".join(chunks)

            return one

        from starlette.applications import Starlette
        from starlette.routing import Mount

        by_hand = Starlette(routes=[Mount("/fa", app=fastapi_app)])
        many = Gateway(Config.model_validate({"plugins": {"dir": str(many_dir), "watch": False}}))
        many.events.started()
        await many.registry.scan()
        cases = [
            ("FastAPI app, called directly", _call(fastapi_app, "/")),
            ("FastAPI app, under a hand-written Starlette Mount", _call(by_hand, "/fa/")),
            ("FastAPI plugin, through Gateway", _call(gateway, "/fa/")),
            (
                f"FastAPI plugin, through Gateway with {plugins_count:,} plugins (last)",
                _call(many, f"/p{plugins_count - 1:04d}/"),
            ),
            ("functions plugin, through Gateway", _call(gateway, "/fn/")),
            ("Flask app, WSGI call on the loop thread (no adapter)", flask_direct()),
            ("Flask, plain a2wsgi.WSGIMiddleware (32 threads)", _call(a2wsgi_flask, "/")),
            (f"Flask, the gateway's {type(wrapped_flask).__name__}", _call(wrapped_flask, "/")),
            ("Flask plugin, through Gateway", _call(gateway, "/fl/")),
        ]
        seq: dict[str, list[float]] = {label: [] for label, _ in cases}
        par: dict[str, list[float]] = {label: [] for label, _ in cases}
        for _ in range(repeats):  # repeats outside, so that drift hits every case alike
            for label, one in cases:
                seq[label].append(await _per_request_us(one, n // 4, 1))
                par[label].append(await _per_request_us(one, n, 64))
        await gateway.shutdown()
        await many.shutdown()
        return [[label, f"{min(seq[label]):.1f}", f"{min(par[label]):.1f}"] for label, _ in cases]

    try:
        return uvloop.run(run())
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(many_dir, ignore_errors=True)


# --- 2. py-spy under load --------------------------------------------------------------

#: (bucket, regex on a frame "function (file:line)"); a sample goes to the innermost
#: frame that matches a bucket, in this order of precedence
BUCKETS: list[tuple[str, str]] = [
    ("logging (access log)", r"\(logging/|uvicorn/logging\.py"),
    ("gateway WSGI adapter (gateway/wsgi/)", r"\(gateway/wsgi/"),
    ("a2wsgi: build_environ", r"^build_environ \(a2wsgi"),
    ("a2wsgi: thread -> loop send (run_coroutine_threadsafe)", r"^send \(a2wsgi/wsgi\.py"),
    ("a2wsgi: loop side (responder, sender task, queue)", r"\(a2wsgi/wsgi\.py"),
    ("thread pool (executor, futures)", r"\(concurrent/futures/|\(threading\.py"),
    ("asyncio (queues, futures, tasks)", r"\(asyncio/"),
    ("Flask/Werkzeug", r"\((flask|werkzeug)/"),
    ("Django", r"\(django/"),
    ("FastAPI/Starlette/pydantic in the plugin", r"\((fastapi|starlette|pydantic)"),
    ("functions plugin (gateway/functions.py)", r"\(gateway/functions\.py"),
    ("gateway dispatch (app.py, routing.py)", r"\(gateway/(app|routing)\.py"),
    ("uvicorn protocol (httptools_impl)", r"\(uvicorn/"),
]


def bucket_of(frames: list[str]) -> str:
    for frame in reversed(frames):  # innermost first
        for name, pattern in BUCKETS:
            if re.search(pattern, frame):
                return name
    return "other (interpreter, event loop entry)"


def py_spy(pid: int, seconds: float, out: Path, svg: Path | None) -> Counter[str]:
    """Sample ``pid`` (GIL holders only) into ``out`` (collapsed stacks); bucket the samples."""
    argv = ["taskset", "-c", str(CLIENT_CPU), str(PY_SPY), "record", "--pid", str(pid)]
    argv += ["--duration", str(int(seconds)), "--rate", "200", "--gil", "--nonblocking"]
    subprocess.run([*argv, "--format", "raw", "-o", str(out)], check=True, capture_output=True)
    if svg is not None:
        subprocess.run([*argv, "-o", str(svg)], check=True, capture_output=True)
    buckets: Counter[str] = Counter()
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f for f in stack.split(";") if f]
        # py-spy prints paths relative to site-packages/stdlib when it can
        buckets[bucket_of(frames)] += int(count)
    return buckets


def under_load(seconds: float, out_dir: Path | None) -> list[tuple[str, float, Counter[str]]]:
    from run import write_plugin, wrk

    work = Path(tempfile.mkdtemp(prefix="gateway-profile-load-"))
    results = []
    try:
        for kind, quiet in (("fastapi", False), ("fastapi", True), ("flask", True)):
            root = work / f"plugins-{kind}"
            if not root.exists():
                write_plugin(root / "p0000", kind)
            name = f"{kind}{'-quiet' if quiet else ''}"
            port = free_port()
            (work / name).mkdir()
            server = Server(
                name,
                gateway_argv(root, port, quiet=quiet),
                port=port,
                log_dir=work,
                env=gateway_env(),
                cwd=work / name,
                cpu=SERVER_CPU,
            )
            try:
                server.wait_http("/_gateway/ready")
                url = server.base_url + "/p0000/"
                wrk(url, 2)
                pool = concurrent.futures.ThreadPoolExecutor(1)
                load = pool.submit(wrk, url, seconds + 3)
                time.sleep(1)
                svg = out_dir / f"gateway-{name}.svg" if out_dir else None
                raw = (out_dir or work) / f"gateway-{name}.txt"
                buckets = py_spy(server.pid, seconds, raw, svg)
                label = f"{kind} plugin" + (", --no-access-log" if quiet else ", as shipped")
                results.append((label, load.result().rps, buckets))
                pool.shutdown()
            finally:
                server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000, help="in-process, per case")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--plugins", type=int, default=1000, help="the 'many plugins' count")
    parser.add_argument("--seconds", type=float, default=15, help="py-spy sampling time")
    parser.add_argument("--out", type=Path, help="keep flame graphs and raw stacks here")
    parser.add_argument("--skip-load", action="store_true", help="in-process part only")
    args = parser.parse_args(argv)

    print("1. in-process, no network (uvloop): microseconds per request, best of", args.repeats)
    rows = in_process(args.requests, args.repeats, args.plugins)
    print(text_table(["path", "1 at a time", "64 at once"], rows))
    if args.skip_load:
        return 0
    if PY_SPY is None:
        print("py-spy not found: pip install py-spy", file=sys.stderr)
        return 1
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    print("\n2. py-spy --gil under wrk -c64 load", flush=True)
    for label, rps, buckets in under_load(args.seconds, args.out):
        total = sum(buckets.values())
        per_request = 1e6 / rps
        print(f"\n{label}: {rps:,.0f} req/s with py-spy attached = {per_request:.0f} µs/request")
        table = [
            [name, f"{n / total:.1%}", f"{n / total * per_request:.0f}"]
            for name, n in buckets.most_common()
        ]
        print(text_table(["bucket (innermost matching frame)", "GIL samples", "≈ µs/req"], table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
