"""A plugin whose import hangs until a file named ``release-<folder name>`` appears in the
gateway's working directory (at most ten minutes)."""

import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

release = Path.cwd() / f"release-{Path(__file__).parent.name}"
give_up = time.monotonic() + 600
while not release.exists() and time.monotonic() < give_up:
    time.sleep(0.05)


async def index(request):
    return PlainTextResponse("finally imported")


app = Starlette(routes=[Route("/", index)])
