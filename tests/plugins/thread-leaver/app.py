"""A plugin that starts a non-daemon thread that never ends: at exit, Python waits for it."""

import threading
import time

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


def forever(sleep=time.sleep):
    # Bound as a default, so the loop outlives the module's globals (released at unload).
    while True:
        sleep(0.05)


threading.Thread(target=forever, name="leaver-forever", daemon=False).start()


async def index(request):
    return PlainTextResponse("left a thread")


app = Starlette(routes=[Route("/", index)])
