"""A Flask app as users write them: uploads read whole or as a stream, a generator view.

The streaming view waits for files ``go-<i>`` the test creates in ``?dir=``, so the test
can see each block arrive before the next one exists.
"""

import hashlib
import time
from pathlib import Path

from flask import Flask, Response, jsonify, request, stream_with_context

app = Flask(__name__)


@app.post("/data")
def data():
    body = request.get_data()
    return jsonify(length=len(body), sha256=hashlib.sha256(body).hexdigest())


@app.post("/sha256")
def sha256():
    digest, length = hashlib.sha256(), 0
    while piece := request.stream.read(65536):
        digest.update(piece)
        length += len(piece)
    return jsonify(length=length, sha256=digest.hexdigest())


@app.get("/progress")
def progress():
    folder = Path(request.args["dir"])

    @stream_with_context
    def events():
        for i in range(3):
            if i:
                deadline = time.monotonic() + 20
                while not (folder / f"go-{i}").exists() and time.monotonic() < deadline:
                    time.sleep(0.01)
            yield f"data: {request.path} step {i}\n\n"

    return Response(events(), mimetype="text/event-stream")


@app.get("/rows")
def rows():
    def generate():
        yield "id,name\n"
        yield "1,ok\n"
        raise RuntimeError("the database went away mid-export")

    return Response(generate(), mimetype="text/csv")
