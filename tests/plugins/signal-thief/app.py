"""A plugin that takes SIGTERM and SIGINT for itself in its lifespan startup (which runs on
the gateway's main thread), ignoring them: on its own it would make the gateway unstoppable."""

import signal
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


def ignore(signum, frame):
    pass


@asynccontextmanager
async def lifespan(app):
    signal.signal(signal.SIGTERM, ignore)
    signal.signal(signal.SIGINT, ignore)
    yield


async def index(request):
    return PlainTextResponse("mine now")


app = Starlette(routes=[Route("/", index)], lifespan=lifespan)
