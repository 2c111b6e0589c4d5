"""An isolated Flask plugin: SCRIPT_NAME and url_for under the prefix."""

import os

from flask import Flask, request, url_for

app = Flask(__name__)


@app.get("/")
def index() -> dict[str, object]:
    return {
        "pid": os.getpid(),
        "script_name": request.environ["SCRIPT_NAME"],
        "path_info": request.environ["PATH_INFO"],
        "url_for": url_for("index"),
        "remote_addr": request.remote_addr,
    }


@app.post("/echo")
def echo() -> bytes:
    return request.get_data()


@app.get("/chunks")
def chunks():
    def body():
        yield b"one\n"
        yield b"two\n"

    return app.response_class(body(), mimetype="text/plain")
