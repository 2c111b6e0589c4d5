"""An isolated FastAPI plugin that shows what a client, and the app, see through a worker."""

import asyncio
import ctypes
import hashlib
import os
import signal
import sys
import time

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response, StreamingResponse

from . import helpers

app = FastAPI()
released = asyncio.Event()
hoard: list[bytearray] = []


@app.get("/")
async def hello(request: Request) -> dict[str, object]:
    return {
        "pid": os.getpid(),
        "root_path": request.scope["root_path"],
        "path": request.scope["path"],
        "client": list(request.scope["client"]),
        "server": list(request.scope["server"]),
        "request_id": request.headers.get("x-request-id"),
        "greeting": os.environ.get("ISO_GREETING"),
        "home": os.environ.get("HOME") is not None,
        "url_for": str(request.url_for("hello")),
        "helper": helpers.NAME,
    }


@app.get("/gateway-env")
async def gateway_env() -> list[str]:
    """The gateway's own variables this process was given (none should be)."""
    return sorted(key for key in os.environ if key.startswith("GATEWAY_"))


@app.post("/upload")
async def upload(request: Request) -> dict[str, object]:
    digest, size, chunks = hashlib.sha256(), 0, 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
        chunks += 1
    return {"bytes": size, "sha256": digest.hexdigest(), "chunks": chunks}


@app.get("/download")
async def download(mib: int = 8) -> StreamingResponse:
    async def body():
        block = b"x" * (1 << 20)
        for _ in range(mib):
            yield block

    return StreamingResponse(body(), media_type="application/octet-stream")


@app.get("/stream")
async def stream() -> StreamingResponse:
    released.clear()

    async def body():
        yield b"first\n"
        await asyncio.wait_for(released.wait(), 20)
        yield b"second\n"

    return StreamingResponse(body(), media_type="text/plain")


@app.post("/release")
async def release() -> dict[str, bool]:
    released.set()
    return {"released": True}


@app.get("/headers")
async def headers(request: Request) -> Response:
    response = JSONResponse({"x-dup": request.headers.getlist("x-dup")})
    response.headers["x-request-id"] = request.headers.get("x-request-id", "")
    response.raw_headers.append((b"set-cookie", b"a=1; Path=/"))
    response.raw_headers.append((b"set-cookie", b"b=2; Path=/"))
    return response


@app.get("/sleep")
async def sleep(seconds: float) -> dict[str, float]:
    await asyncio.sleep(seconds)
    return {"slept": seconds}


@app.get("/spin")
async def spin(seconds: float) -> dict[str, float]:
    time.sleep(seconds)  # holds the worker's event loop, as a stuck C call would
    return {"spun": seconds}


@app.get("/crash/{how}")
async def crash(how: str) -> None:
    if how == "exit":
        os._exit(3)
    if how == "sysexit":
        sys.exit(4)
    if how == "segv":
        ctypes.string_at(0)
    if how == "kill":
        os.kill(os.getpid(), signal.SIGSEGV)


@app.get("/leak")
async def leak() -> dict[str, int]:
    while True:  # grows until the gateway kills the process
        hoard.append(bytearray(16 << 20))
        hoard[-1][:: 4096] = b"x" * len(hoard[-1][:: 4096])
        await asyncio.sleep(0.005)


@app.get("/error")
async def error() -> None:
    raise RuntimeError("boom")


@app.websocket("/ws")
async def ws(websocket: WebSocket) -> None:
    await websocket.accept(subprotocol=None)
    await websocket.send_text(f"hello {websocket.scope['root_path']}")
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") == "close":
            await websocket.close(code=4001)
            return
        if message.get("text") is not None:
            await websocket.send_text(message["text"].upper())
        else:
            await websocket.send_bytes(message["bytes"][::-1])
