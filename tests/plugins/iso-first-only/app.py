"""An isolated plugin only the first of its processes can load: the others fail, so the
start of the version fails while one process of it is already up."""

import os

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

# The worker runs in its own data folder: the first process to get here creates the marker.
try:
    os.close(os.open("first-process-started", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
except FileExistsError:
    raise RuntimeError("only the first process of this plugin can start") from None


async def index(request):
    return PlainTextResponse(str(os.getpid()))


app = Starlette(routes=[Route("/", index)])
