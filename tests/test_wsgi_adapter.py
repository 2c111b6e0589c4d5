"""The WSGI adapter in-process: buffering, streaming, errors, request bodies, the shared pool."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from gateway.wsgi import BUFFER_BYTES, WSGIAdapter

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
