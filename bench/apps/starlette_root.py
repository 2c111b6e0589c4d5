"""The baseline a user would write by hand: a Starlette root with one ``Mount`` per app.

``BENCH_MOUNTS`` (default 1) FastAPI hello apps, mounted at ``/p0000``, ``/p0001``, ... in
order, exactly as the gateway benchmark names its plugin folders.
"""

import os

from hello_fastapi import hello
from starlette.applications import Starlette
from starlette.routing import Mount


def make_app():  # type: ignore[no-untyped-def]
    from fastapi import FastAPI

    sub = FastAPI()
    sub.get("/")(hello)
    return sub


app = Starlette(
    routes=[
        Mount(f"/p{i:04d}", app=make_app()) for i in range(int(os.environ.get("BENCH_MOUNTS", "1")))
    ]
)
