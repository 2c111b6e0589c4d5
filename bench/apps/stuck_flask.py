"""A Flask plugin whose ``/hold`` requests stay in their pool thread until the file
``$BENCH_RELEASE_DIR/release`` exists (at most 120 s): one plugin stuck, for
``bench/containment.py``. Each request that gets a thread appends a line to
``$BENCH_RELEASE_DIR/entered``."""

import os
import threading
import time
from pathlib import Path

from flask import Flask

DIR = Path(os.environ.get("BENCH_RELEASE_DIR", "."))
LOCK = threading.Lock()

app = Flask(__name__)


@app.get("/hold")
def hold() -> str:
    with LOCK, (DIR / "entered").open("a") as f:
        f.write("1\n")
    deadline = time.monotonic() + 120
    while not (DIR / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return "released"
