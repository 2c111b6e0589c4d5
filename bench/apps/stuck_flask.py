"""A Flask plugin whose ``/hold`` requests stay in their pool thread while another process
holds the exclusive lock (``fcntl.flock``) of ``$BENCH_RELEASE_DIR/hold.lock``: one plugin
stuck, for ``bench/containment.py``. The wait is in the kernel, as a request waiting on a
database would be. Each request that gets a thread appends a line to
``$BENCH_RELEASE_DIR/entered``."""

import fcntl
import os
import threading
from pathlib import Path

from flask import Flask

DIR = Path(os.environ.get("BENCH_RELEASE_DIR", "."))
LOCK = threading.Lock()

app = Flask(__name__)


@app.get("/hold")
def hold() -> str:
    with LOCK, (DIR / "entered").open("a") as f:
        f.write("1\n")
    with (DIR / "hold.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
    return "released"
