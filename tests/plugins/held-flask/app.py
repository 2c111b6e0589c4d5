"""A Flask plugin whose requests can be held: ``/hold`` appends its ``id`` to
``$CONTAIN_DIR/held-flask-entered``, then waits for a shared lock on ``$CONTAIN_DIR/hold.lock``,
so a test that holds that file's exclusive lock (``fcntl.flock``) keeps the request in its
pool thread until it lets go. The wait is in the kernel, as a request waiting on a database
would be: the thread takes no CPU and no GIL while it is held. ``/echo`` reads the whole body.
"""

import fcntl
import os
import threading
from pathlib import Path

from flask import Flask, request

DIR = Path(os.environ.get("CONTAIN_DIR", "."))
LOCK = threading.Lock()

app = Flask(__name__)


@app.get("/")
def index():
    return "ok"


@app.post("/echo")
def echo():
    return {"received": len(request.get_data())}


@app.get("/hold")
def hold():
    with LOCK, (DIR / "held-flask-entered").open("a") as f:
        f.write(request.args.get("id", "-") + "\n")
    with (DIR / "hold.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
    return "released"
