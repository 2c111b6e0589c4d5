import os
import time
from pathlib import Path

from flask import Flask, request

app = Flask(__name__)


@app.post("/echo")
def echo():
    return request.get_data()


@app.get("/")
def index():
    return "ok"


@app.get("/stuck")
def stuck():
    # Marks that the request is inside the WSGI thread, then never returns in time.
    (Path(os.environ.get("STUCK_MARKER_DIR", ".")) / "stuck-entered").write_text("1")
    time.sleep(600)
    return "never"
