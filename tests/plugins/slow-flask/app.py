"""A Flask plugin with a slow endpoint: a WSGI thread busy while the gateway is told to stop.

It touches ``$SLOW_MARKER_DIR/slow-flask-entered`` once the request is in the view, so a test
can send SIGTERM exactly while the request is in flight.
"""

import os
import time
from pathlib import Path

from flask import Flask, jsonify, request

MARKERS = Path(os.environ.get("SLOW_MARKER_DIR", "."))

app = Flask(__name__)


@app.get("/slow")
def slow():
    seconds = float(request.args.get("s", "1.5"))
    (MARKERS / "slow-flask-entered").write_text("entered\n")
    time.sleep(seconds)
    return jsonify(plugin="slow-flask", slept=seconds)
