"""A plugin that starts a thread of its own and never stops it: the thread keeps using the
module's globals after the version is replaced."""

import threading
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

VERSION = Path(__file__).with_name("version.txt").read_text().strip()
TICKS = 0


def tick() -> None:
    global TICKS
    log = Path.cwd() / f"ticker-{VERSION}.txt"
    while not (Path.cwd() / "stop-ticker").exists():
        TICKS += 1
        log.write_text(str(TICKS))
        time.sleep(0.02)


threading.Thread(target=tick, name=f"ticker-{VERSION}", daemon=True).start()


async def index(request):
    return PlainTextResponse(VERSION)


app = Starlette(routes=[Route("/", index)])
