"""The WSGI adapter in-process: streaming, errors, request bodies, PEP 3333 details, the pool."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from gateway.wsgi import BUFFER_BYTES, ResponseAborted, WSGIAdapter

POOL = ThreadPoolExecutor(2, thread_name_prefix="test-pool")


def request(app: Any, method: str = "GET", path: str = "/", **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=WSGIAdapter(app, POOL))
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


def echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    data = environ["wsgi.input"].read()
    start_response(
        "201 Created",
        [
            ("Content-Type", "application/octet-stream"),
            ("X-Thread", threading.current_thread().name),
        ],
    )
    return [data]


def test_small_response_is_buffered_and_runs_in_the_given_pool() -> None:
    response = request(echo, "POST", content=b"hello")
    assert response.status_code == 201
    assert response.content == b"hello"
    assert response.headers["x-thread"].startswith("test-pool")


@pytest.mark.parametrize("size", [0, 10, BUFFER_BYTES + 12345, 3 * BUFFER_BYTES])
def test_request_bodies_of_any_size_arrive_whole(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    response = request(echo, "POST", content=payload)
    assert response.content == payload


def test_large_and_streaming_responses() -> None:
    def stream(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        for i in range(40):
            yield str(i).encode() * 100_000

    response = request(stream)
    assert response.status_code == 200
    assert response.content == b"".join(str(i).encode() * 100_000 for i in range(40))


def test_iterable_close_is_called() -> None:
    closed = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"a"

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: Any) -> Body:
        start_response("200 OK", [])
        return Body()

    assert request(app).content == b"a"
    assert closed == [True]


def test_legacy_write_callable() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        write = start_response("200 OK", [])
        write(b"written, ")
        return [b"returned"]

    assert request(app).content == b"written, returned"


def test_app_exception_is_a_500_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    def broken(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise ValueError("boom")

    response = request(broken)
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert "boom" in caplog.text


def test_environ_has_script_name_and_path_info() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [
            f"{environ['SCRIPT_NAME']}|{environ['PATH_INFO']}|{environ['QUERY_STRING']}".encode()
        ]

    async def go() -> httpx.Response:
        adapter = WSGIAdapter(app, POOL)

        async def mounted(scope: Any, receive: Any, send: Any) -> None:
            scope["root_path"] = "/shop"
            await adapter(scope, receive, send)

        transport = httpx.ASGITransport(app=mounted)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            return await client.get("/shop/cart/1?x=2")

    assert asyncio.run(go()).text == "/shop|/cart/1|x=2"


# --- PEP 3333 details, in-process --------------------------------------------------------

SCOPE: dict[str, Any] = {
    "type": "http",
    "http_version": "1.1",
    "server": ("127.0.0.1", 8000),
    "client": ("127.0.0.1", 50000),
    "scheme": "http",
    "method": "GET",
    "root_path": "",
    "path": "/",
    "raw_path": b"/",
    "query_string": b"",
    "headers": [(b"host", b"x")],
}


async def call(adapter: WSGIAdapter, leave_after_first_block: bool = False) -> list[dict[str, Any]]:
    """Drive one GET through ``adapter`` as a server would; the messages it sent.

    ``leave_after_first_block``: the client disconnects once a body block was sent (and,
    as uvicorn does, later sends are dropped silently).
    """
    sent: list[dict[str, Any]] = []
    gone = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if leave_after_first_block and message.get("body"):
            gone.set()

    await asyncio.wait_for(adapter(dict(SCOPE), receive, send), 20)
    return sent


class Counted:
    """A response body that counts its ``close()`` calls."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self.blocks = blocks
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        return self.blocks

    def close(self) -> None:
        self.closed += 1


def test_multiprocess_is_what_the_gateway_says() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [repr(environ["wsgi.multiprocess"]).encode()]

    assert request(app).text == "False"

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=WSGIAdapter(app, POOL, multiprocess=True))
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            return await client.get("/")

    assert asyncio.run(go()).text == "True"


@pytest.mark.parametrize(
    "misuse",
    ["start_response twice", "block before start_response", "no start_response", "str block"],
)
def test_apps_breaking_pep3333_get_a_500(misuse: str, caplog: pytest.LogCaptureFixture) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[Any]:
        if misuse == "start_response twice":
            start_response("200 OK", [])
            start_response("200 OK", [])
        elif misuse == "str block":
            start_response("200 OK", [])
            yield "text"
        elif misuse == "block before start_response":
            yield b"early"
        yield b""

    response = request(app)
    assert response.status_code == 500
    assert "unhandled error in WSGI app" in caplog.text


def test_an_error_after_the_start_aborts_and_close_is_called_once() -> None:
    def blocks() -> Iterator[bytes]:
        yield b"partial"
        raise ValueError("mid-stream")

    body = Counted(blocks())

    def app(environ: dict[str, Any], start_response: Any) -> Counted:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    with pytest.raises(ResponseAborted) as raised:
        request(app)
    assert isinstance(raised.value.__cause__, ValueError)
    assert body.closed == 1


def test_a_complete_small_response_is_sent_in_one_go() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"a", b"b", b"c"]

    sent = asyncio.run(call(WSGIAdapter(app, POOL)))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[1]["body"] == b"abc" and not sent[1].get("more_body")


def test_a_client_leaving_stops_an_endless_body() -> None:
    def endless() -> Iterator[bytes]:
        while True:
            yield b"tick\n"
            time.sleep(0.001)

    body = Counted(endless())

    def app(environ: dict[str, Any], start_response: Any) -> Counted:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    asyncio.run(call(WSGIAdapter(app, POOL), leave_after_first_block=True))
    assert body.closed == 1


def test_a_request_still_queued_when_the_pool_shuts_down_gets_a_500() -> None:
    pool = ThreadPoolExecutor(1)
    entered, release = threading.Event(), threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        entered.set()
        release.wait(10)
        start_response("200 OK", [])
        return [b"done"]

    async def go() -> list[list[dict[str, Any]]]:
        adapter = WSGIAdapter(app, pool)
        first = asyncio.create_task(call(adapter))
        second = asyncio.create_task(call(adapter))
        assert await asyncio.to_thread(entered.wait, 10)  # the second waits for the thread
        pool.shutdown(wait=False, cancel_futures=True)
        release.set()
        return [await first, await second]

    first, second = asyncio.run(go())
    assert first[0]["status"] == 200
    assert second[0]["status"] == 500
