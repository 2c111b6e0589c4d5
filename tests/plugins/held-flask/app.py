"""A Flask plugin whose requests can be held: ``/hold`` waits until ``$CONTAIN_DIR/release``
exists (at most 60 s), after appending a line to ``$CONTAIN_DIR/held-flask-entered``, so a
test controls exactly how long its pool threads stay taken. ``/echo`` reads the whole body.
"""

import os
import threading
import time
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
    deadline = time.monotonic() + 60
    while not (DIR / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return "released"
