"""Example FastAPI plugin: a lifespan, a router in a sibling module, a WebSocket echo."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from . import items


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, object]]:
    # Runs before the plugin takes traffic; the state reaches every request.
    yield {"greeting": "hello from fastapi"}


app = FastAPI(title="fastapi-demo", lifespan=lifespan)
app.include_router(items.router)


@app.get("/")
async def index() -> dict[str, str]:
    return {"plugin": "fastapi-demo", "framework": "fastapi"}


@app.websocket("/ws")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass
