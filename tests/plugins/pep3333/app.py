"""A plain WSGI app behind the standard library's PEP 3333 checker, ``wsgiref.validate``.

Each path exercises one duty of the server (the gateway): reading ``wsgi.input`` every way,
streaming blocks, ``write()``, ``exc_info``, errors before and after the response started,
a client that goes away. The validator raises ``AssertionError`` (and ``WSGIWarning``, made
an error here) when the server breaks the PEP; :func:`app` answers those with a 500 naming
the failure, so a test sees it.

The tests pass a folder in the query string (``dir``): the app waits there for the files
``go-<i>`` the test creates, and leaves markers (``closed``, ``finished``, ``reraised``,
``progress``) for the test to read.
"""

import io
import json
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import parse_qs
from wsgiref.validate import WSGIWarning, validator

from .readers import read_with

warnings.simplefilter("error", WSGIWarning)

TEXT = [("Content-Type", "text/plain; charset=utf-8")]
#: how long the app waits for a file the test creates, or streams forever
PATIENCE_S = 20.0


def app(environ, start_response):
    """The validated app; the validator's complaints become a 500 with their text."""
    try:
        return checked(environ, start_response)
    except (AssertionError, WSGIWarning) as exc:
        body = f"validator: {exc!r}".encode()
        headers = [*TEXT, ("Content-Length", str(len(body)))]
        start_response("500 Internal Server Error", headers, sys.exc_info())
        return [body]


def _app(environ, start_response):
    query = {k: v[-1] for k, v in parse_qs(environ["QUERY_STRING"]).items()}
    folder = Path(query["dir"]) if "dir" in query else None
    path = environ["PATH_INFO"]
    if path == "/read":
        wrapper = environ["wsgi.input"]  # the validator's, around the server's object
        facts = read_with(wrapper, query["mode"], int(query.get("n", "-1")), raw=wrapper.input)
        return json_response(start_response, facts)
    if path == "/env":
        return json_response(start_response, environ_facts(environ))
    if path == "/hello":
        body = b"hello world\n"
        start_response("200 OK", [*TEXT, ("Content-Length", str(len(body)))])
        return Closing([body], folder)
    if path == "/stream":
        return Closing(stream(start_response, folder, int(query.get("n", "3"))), folder)
    if path == "/write":
        return with_write(start_response, folder)
    if path == "/exc-info-before":
        return exc_info_before(start_response)
    if path == "/exc-info-after":
        return Closing(exc_info_after(start_response, folder), folder)
    if path == "/error-before":
        raise RuntimeError("boom before the response started")
    if path == "/error-mid-stream":
        return Closing(error_mid_stream(start_response, int(query["size"])), folder)
    if path == "/forever":
        blocks = forever(start_response, folder, float(query["pause"]), int(query["block"]))
        return Closing(blocks, folder)
    start_response("404 Not Found", TEXT)
    return [b"no such path\n"]


checked = validator(_app)


class Closing:
    """The response iterable; its ``close()`` leaves a line in ``<dir>/closed`` (once per call)."""

    def __init__(self, iterable, folder):
        self.iterable = iterable
        self.folder = folder

    def __iter__(self):
        return iter(self.iterable)

    def close(self):
        if self.folder is not None:
            with (self.folder / "closed").open("a") as f:
                f.write("closed\n")
        close = getattr(self.iterable, "close", None)
        if close is not None:
            close()


def json_response(start_response, facts):
    body = json.dumps(facts).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def environ_facts(environ):
    errors = environ["wsgi.errors"].errors  # the server's stream, inside the validator's wrapper
    keys = (
        "wsgi.multiprocess",
        "wsgi.multithread",
        "wsgi.run_once",
        "wsgi.input_terminated",
        "wsgi.version",
        "SERVER_SOFTWARE",
        "SCRIPT_NAME",
        "PATH_INFO",
        "CONTENT_LENGTH",
    )
    facts = {key: environ.get(key) for key in keys}
    facts["wsgi.errors is a text stream"] = isinstance(errors, io.TextIOBase)
    facts["wsgi.errors is stderr"] = errors is sys.stderr
    facts["wsgi.file_wrapper"] = callable(environ.get("wsgi.file_wrapper"))
    return facts


def wait_for_file(path):
    deadline = time.monotonic() + PATIENCE_S
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} was never created")
        time.sleep(0.01)


def stream(start_response, folder, n):
    """``n`` blocks; block ``i > 0`` only once the test created ``go-<i>``."""
    start_response("200 OK", [("Content-Type", "text/event-stream")])
    for i in range(n):
        if i:
            wait_for_file(folder / f"go-{i}")
        yield f"data: block {i}\n\n".encode()
    (folder / "finished").write_text("finished\n")


def with_write(start_response, folder):
    """The legacy ``write()`` callable, then the returned iterable."""
    write = start_response("200 OK", TEXT)
    write(b"written 0\n")
    wait_for_file(folder / "go-1")
    write(b"written 1\n")
    wait_for_file(folder / "go-2")
    (folder / "finished").write_text("finished\n")
    return [b"returned 2\n"]


def exc_info_before(start_response):
    """An error handled before any block was sent: the new status and headers replace."""
    start_response("200 OK", [*TEXT, ("X-Original", "1")])
    try:
        raise ValueError("handled before the response started")
    except ValueError:
        start_response("503 Service Unavailable", [*TEXT, ("X-Replaced", "1")], sys.exc_info())
    return [b"replaced\n"]


def exc_info_after(start_response, folder):
    """After a block was sent, ``start_response(..., exc_info)`` must re-raise (PEP 3333)."""
    start_response("200 OK", TEXT)
    yield b"partial\n"
    try:
        raise ValueError("boom after the response started")
    except ValueError:
        try:
            start_response("500 Internal Server Error", TEXT, sys.exc_info())
        except ValueError:
            (folder / "reraised").write_text("reraised\n")
            raise
    yield b"replaced\n"  # the server let the status change after the headers went out


def error_mid_stream(start_response, size):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    block = b"x" * 65536
    for _ in range(size // len(block)):
        yield block
    yield b"x" * (size % len(block))
    raise RuntimeError("boom mid-stream")


def forever(start_response, folder, pause, size):
    """Blocks until the client goes (or for ``PATIENCE_S``); ``progress`` counts bytes."""
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    block = b"y" * size
    sent = 0
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        yield block
        sent += size
        (folder / "progress").write_text(str(sent))
        if pause:
            time.sleep(pause)
    (folder / "finished").write_text("finished\n")
