"""PEP 3333 end to end: WSGI plugins behind a real gateway, talked to over real HTTP.

The ``pep3333`` plugin wraps its app in the standard library's ``wsgiref.validate``
checker and answers its complaints with a 500; ``flask-io`` is Flask as users write it.
20 of these 27 cases failed on the adapter before issue 9 was fixed; the others (HEAD,
``exc_info`` before the start, an error before the start, bodies with a Content-Length)
guard what already worked.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import io
import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from conftest import FIXTURES, GatewayProcess, launch_gateway, wait_for

MiB = 1 << 20


def load_readers() -> ModuleType:
    """The plugin's own reading code, to read the same bytes from an ``io.BytesIO``."""
    spec = importlib.util.spec_from_file_location(
        "pep3333_readers", FIXTURES / "pep3333/readers.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


readers = load_readers()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    gateway = launch_gateway(tmp_path_factory.mktemp("pep3333"), "pep3333", "flask-io")
    yield gateway
    gateway.stop()


@pytest.fixture(autouse=True)
def validator_never_complains(gw: GatewayProcess) -> Iterator[None]:
    """After each test: no ``wsgiref.validate`` failure anywhere in the gateway's log (the
    validator reports an iterable that was never closed only there)."""
    yield
    log = gw.log()
    for complaint in ("AssertionError", "WSGIWarning", "without being closed"):
        assert complaint not in log, log


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Where a test and the plugin exchange files (``go-<i>`` one way, markers the other)."""
    return tmp_path


# --- request bodies ------------------------------------------------------------------------


def lines_body(size: int, seed: int = 3333) -> bytes:
    """``size`` bytes of binary lines: mostly short, some longer than every limit and read
    size used below, some ``\\r\\n``, and no newline at the very end."""
    rng = random.Random(seed)
    parts: list[bytes] = []
    total = 0
    while total < size:
        length = rng.choice([0, 1, 17, 80, 200, 999, 1000, 1001, 1500, 70_000, 300_000])
        line = rng.randbytes(length).replace(b"\n", b"N") + rng.choice([b"\n", b"\r\n"])
        parts.append(line)
        total += len(line)
    return b"".join(parts)[:size].rstrip(b"\n")


BODIES = {
    "empty": b"",
    "small": b"hello\nworld",
    "several-MiB": lines_body(5 * MiB),
}


def pieces(body: bytes, how: str) -> Iterator[bytes]:
    """``body`` as an iterator of chunks (httpx sends those chunked, with no Content-Length)."""
    # "many-small-chunks": boundaries anywhere, lines straddling them
    step = 65536 if how == "chunked" else 3 if len(body) < 100 else 4093
    for start in range(0, len(body), step):
        yield body[start : start + step]


READ_SIZES = {"read_n": 7777, "readline_limit": 1000, "readlines_hint": 10_000}


@pytest.mark.parametrize("transfer", ["content-length", "chunked", "many-small-chunks"])
@pytest.mark.parametrize("body_name", list(BODIES))
def test_wsgi_input_reads_like_a_file_every_way(
    gw: GatewayProcess, body_name: str, transfer: str
) -> None:
    body = BODIES[body_name]
    for mode in readers.MODES:
        n = READ_SIZES.get(mode, -1)
        content = body if transfer == "content-length" else pieces(body, transfer)
        response = gw.client.post("/pep3333/read", params={"mode": mode, "n": n}, content=content)
        assert response.status_code == 200, (mode, response.text)
        expected = readers.read_with(io.BytesIO(body), mode, n)
        assert expected["sha256"] == hashlib.sha256(body).hexdigest()
        assert response.json() == expected, mode


@pytest.mark.parametrize("size", [11, 300_000])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_flask_gets_the_whole_body(gw: GatewayProcess, size: int, chunked: bool) -> None:
    body = lines_body(size, seed=size)
    content = pieces(body, "chunked") if chunked else body
    response = gw.client.post("/flask-io/data", content=content)
    assert response.json() == {"length": size, "sha256": hashlib.sha256(body).hexdigest()}


def vm_hwm_mb(pid: int) -> float:
    """The process's peak resident memory so far (Linux ``VmHWM``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_a_200_mb_chunked_upload_streams_through_flask(gw: GatewayProcess) -> None:
    block = random.Random(200).randbytes(MiB)
    count = 200
    peak_before = vm_hwm_mb(gw.proc.pid)

    def upload() -> Iterator[bytes]:
        for i in range(count):
            yield block[i:] + block[:i]  # no two blocks alike

    expected = hashlib.sha256()
    for piece in upload():
        expected.update(piece)
    with httpx.Client(base_url=gw.base_url, timeout=60) as client:
        response = client.post("/flask-io/sha256", content=upload())
    assert response.json() == {"length": count * MiB, "sha256": expected.hexdigest()}
    # Read from the thread with back-pressure: the body never sits in the gateway's memory.
    assert vm_hwm_mb(gw.proc.pid) - peak_before < 64


# --- responses -----------------------------------------------------------------------------


class Reader:
    """The body of a streamed response, as it arrives."""

    def __init__(self, response: httpx.Response):
        self.raw = response.iter_raw()
        self.data = b""

    def until(self, needle: bytes) -> float:
        """Read until ``needle`` has arrived; return how long it took."""
        started = time.monotonic()
        while needle not in self.data:
            self.data += next(self.raw)
        return time.monotonic() - started


def test_each_streamed_block_arrives_before_the_next_exists(
    gw: GatewayProcess, folder: Path
) -> None:
    params = {"dir": str(folder), "n": 3}
    with gw.client.stream("GET", "/pep3333/stream", params=params) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        body = Reader(response)
        for i in range(3):
            if i:
                (folder / f"go-{i}").touch()
            # generous: a block the app yields is on the wire at once, not seconds later
            assert body.until(f"data: block {i}\n\n".encode()) < 5
            if i < 2:
                assert not (folder / "finished").exists()
    assert body.data == b"".join(f"data: block {i}\n\n".encode() for i in range(3))
    wait_for(lambda: (folder / "closed").exists())
    assert (folder / "closed").read_text() == "closed\n"
    assert (folder / "finished").exists()


def test_a_flask_generator_view_streams(gw: GatewayProcess, folder: Path) -> None:
    with gw.client.stream("GET", "/flask-io/progress", params={"dir": str(folder)}) as response:
        body = Reader(response)
        for i in range(3):
            if i:
                (folder / f"go-{i}").touch()
            assert body.until(f"step {i}\n\n".encode()) < 5
    assert body.data.count(b"data: /progress step") == 3  # Flask sees its own paths


def test_the_write_callable_streams(gw: GatewayProcess, folder: Path) -> None:
    with gw.client.stream("GET", "/pep3333/write", params={"dir": str(folder)}) as response:
        body = Reader(response)
        assert body.until(b"written 0\n") < 5
        (folder / "go-1").touch()
        assert body.until(b"written 1\n") < 5
        assert not (folder / "finished").exists()
        (folder / "go-2").touch()
        body.until(b"returned 2\n")
    assert body.data == b"written 0\nwritten 1\nreturned 2\n"


def test_exc_info_before_the_response_started_replaces_status_and_headers(
    gw: GatewayProcess,
) -> None:
    response = gw.client.get("/pep3333/exc-info-before")
    assert response.status_code == 503
    assert response.headers["x-replaced"] == "1"
    assert "x-original" not in response.headers
    assert response.text == "replaced\n"


def raw_get(gw: GatewayProcess, target: str, method: str = "GET") -> bytes:
    """Everything the server sends for one request, until it closes the connection."""
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as sock:
        sock.sendall(f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def assert_aborted(reply: bytes, partial: bytes) -> None:
    """A 200 whose chunked body was cut off: no terminating zero-length chunk."""
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"transfer-encoding: chunked" in head.lower(), head
    assert partial in body
    assert not body.endswith(b"0\r\n\r\n"), body[-100:]


def test_exc_info_after_the_response_started_is_reraised_and_aborts(
    gw: GatewayProcess, folder: Path
) -> None:
    reply = raw_get(gw, f"/pep3333/exc-info-after?dir={folder}")
    assert_aborted(reply, b"partial\n")
    assert b"replaced" not in reply
    assert (folder / "reraised").exists()
    wait_for(lambda: (folder / "closed").exists())
    assert (folder / "closed").read_text() == "closed\n"


@pytest.mark.parametrize("size", [10, 3 * MiB], ids=["small", "past-the-buffer"])
def test_an_error_mid_stream_aborts_the_connection(
    gw: GatewayProcess, folder: Path, size: int
) -> None:
    logged = gw.log().count("RuntimeError: boom mid-stream")
    reply = raw_get(gw, f"/pep3333/error-mid-stream?size={size}&dir={folder}")
    assert_aborted(reply, b"x" * min(size, 1000))
    with pytest.raises(httpx.RemoteProtocolError):
        gw.client.get("/pep3333/error-mid-stream", params={"size": size})
    # logged once per request, with its traceback
    wait_for(lambda: gw.log().count("RuntimeError: boom mid-stream") == logged + 2)
    assert "in error_mid_stream" in gw.log()
    assert (folder / "closed").read_text() == "closed\n"


def test_a_flask_generator_failing_mid_stream_aborts(gw: GatewayProcess) -> None:
    assert_aborted(raw_get(gw, "/flask-io/rows"), b"1,ok\n")


def test_an_error_before_the_response_started_is_a_500(gw: GatewayProcess) -> None:
    logged = gw.log().count("RuntimeError: boom before the response started")
    response = gw.client.get("/pep3333/error-before")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    wait_for(lambda: gw.log().count("RuntimeError: boom before the response started") == logged + 1)


def test_head_sends_the_headers_only(gw: GatewayProcess, folder: Path) -> None:
    with httpx.Client(base_url=gw.base_url, timeout=10) as client:
        head = client.head("/pep3333/hello", params={"dir": str(folder)})
        assert head.status_code == 200
        assert head.headers["content-length"] == "12"
        assert head.content == b""
        # the same connection goes on cleanly: no body bytes were left on it
        assert client.get("/pep3333/hello").text == "hello world\n"
        head = client.head("/pep3333/stream", params={"dir": str(folder), "n": 1})
        assert head.status_code == 200 and head.content == b""
        assert client.get("/pep3333/hello").text == "hello world\n"
    wait_for(lambda: (folder / "closed").read_text() == "closed\n" * 2)


def test_a_client_going_away_mid_stream_stops_the_app(gw: GatewayProcess, folder: Path) -> None:
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as sock:
        target = f"/pep3333/forever?pause=0.01&block=4096&dir={folder}"
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        received = b""
        while received.count(b"y") < 3 * 4096:
            received += sock.recv(65536)
    # close() is called (once) well before the app would have given up by itself
    wait_for(lambda: (folder / "closed").exists(), timeout=10)
    assert (folder / "closed").read_text() == "closed\n"
    assert not (folder / "finished").exists()


def test_a_client_that_stops_reading_holds_the_app_back_then_goes(
    gw: GatewayProcess, folder: Path
) -> None:
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        target = f"/pep3333/forever?pause=0&block=65536&dir={folder}"
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        progress = folder / "progress"
        seen: dict[str, Any] = {"value": None, "since": time.monotonic()}

        def stalled() -> bool:
            value = progress.read_text() if progress.exists() else None
            now = time.monotonic()
            if value != seen["value"]:
                seen.update(value=value, since=now)
            return value is not None and now - seen["since"] > 0.5

        wait_for(stalled, timeout=15)
        # back-pressure: the app waits for the client instead of buffering the world
        assert int(seen["value"]) < 64 * MiB
    wait_for(lambda: (folder / "closed").exists(), timeout=10)
    assert (folder / "closed").read_text() == "closed\n"
    assert not (folder / "finished").exists()


# --- environ -------------------------------------------------------------------------------


def test_environ_is_what_gunicorn_gives(gw: GatewayProcess) -> None:
    facts = gw.client.get("/pep3333/env").json()
    version = importlib.metadata.version("plugin-gateway")
    assert facts == {
        "wsgi.multiprocess": False,  # one worker process
        "wsgi.multithread": True,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
        "wsgi.version": [1, 0],
        "SERVER_SOFTWARE": f"plugin-gateway/{version}",
        "SCRIPT_NAME": "/pep3333",
        "PATH_INFO": "/env",
        "CONTENT_LENGTH": None,
        "wsgi.errors is a text stream": True,
        "wsgi.errors is stderr": True,
        "wsgi.file_wrapper": True,
    }
