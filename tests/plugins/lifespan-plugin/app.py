import os
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request

MARKER = Path(os.environ.get("LIFESPAN_MARKER_DIR", ".")) / "lifespan-events.log"


@asynccontextmanager
async def lifespan(app):
    with MARKER.open("a") as f:
        f.write("startup\n")
    yield {"started": True}
    with MARKER.open("a") as f:
        f.write("shutdown\n")


app = FastAPI(lifespan=lifespan)


@app.get("/")
async def index(request: Request):
    return {"started": request.state.started}
