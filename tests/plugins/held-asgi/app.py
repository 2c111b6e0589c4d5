"""A Starlette plugin whose requests can be held on the event loop (they await), plus views
that misbehave: ``/wait`` awaits until ``$CONTAIN_DIR/release`` exists and records its
``finally`` in ``$CONTAIN_DIR/held-asgi-finally``; ``/stream`` starts its response then waits;
``/block`` calls ``time.sleep`` on the event loop (what an async view must never do).
"""

import asyncio
import os
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

DIR = Path(os.environ.get("CONTAIN_DIR", "."))


async def index(request):
    return PlainTextResponse("ok")


async def wait(request):
    with (DIR / "held-asgi-entered").open("a") as f:
        f.write(request.query_params.get("id", "-") + "\n")
    try:
        for _ in range(6000):  # at most 60 s
            if (DIR / "release").exists():
                break
            await asyncio.sleep(0.01)
        return PlainTextResponse("released")
    finally:
        with (DIR / "held-asgi-finally").open("a") as f:
            f.write(request.query_params.get("id", "-") + "\n")


async def stream(request):
    async def body():
        yield b"first chunk\n"
        await asyncio.sleep(60)
        yield b"never\n"

    return StreamingResponse(body(), media_type="text/plain")


async def block(request):
    time.sleep(float(request.query_params.get("s", "1")))  # blocks the whole event loop
    return PlainTextResponse("blocked")


async def echo(request):
    return PlainTextResponse(str(len(await request.body())))


app = Starlette(
    routes=[
        Route("/", index),
        Route("/wait", wait),
        Route("/stream", stream),
        Route("/block", block),
        Route("/echo", echo, methods=["POST"]),
    ]
)
