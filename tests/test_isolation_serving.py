"""Isolated plugins answer as in-process ones do: bodies and streaming both ways, WebSockets,
headers, root_path / SCRIPT_NAME, addresses, request ids, env; the gateway's kinds load them."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import wait_for
from isolation_support import HostProcess, start_host
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    host = start_host(
        tmp_path_factory.mktemp("serving"),
        {
            "iso-echo": {"env": {"ISO_GREETING": "bonjour"}, "request_timeout_s": 2},
            "iso-flask": {"prefix": "/deep/flask"},
            "iso-functions": {},
        },
    )
    yield host
    host.stop()


def test_an_isolated_plugin_runs_in_its_own_process_with_its_env(host: HostProcess) -> None:
    data = host.client.get("/iso-echo/", headers={"x-request-id": "req-42"}).json()
    assert data["pid"] == host.status("iso-echo")["pids"][0]
    assert data["pid"] not in (os.getpid(), host.proc.pid)
    assert data["greeting"] == "bonjour"  # env: added ...
    assert data["home"] is True  # ... to the inherited environment
    assert data["helper"] == "helpers of iso-echo"  # relative imports in its own namespace
    assert data["request_id"] == "req-42"
    assert data["root_path"] == "/iso-echo"
    assert data["path"] == "/iso-echo/"
    assert data["client"][0] == "127.0.0.1"
    assert data["server"] == ["127.0.0.1", host.port]


def test_large_upload_is_streamed_to_the_worker(host: HostProcess) -> None:
    size = 24 * 1024 * 1024 + 17
    payload = os.urandom(1024) * (size // 1024) + b"z" * (size % 1024)

    def chunks() -> Iterator[bytes]:  # chunked transfer encoding: no Content-Length
        for i in range(0, len(payload), 256 * 1024):
            yield payload[i : i + 256 * 1024]

    response = host.client.post("/iso-echo/upload", content=chunks())
    assert response.status_code == 200
    data = response.json()
    assert data["bytes"] == size
    assert data["sha256"] == hashlib.sha256(payload).hexdigest()
    assert data["chunks"] > 1  # it arrived in pieces, not as one buffered body


def test_large_download_arrives_whole(host: HostProcess) -> None:
    response = host.client.get("/iso-echo/download", params={"mib": 20})
    assert response.status_code == 200
    assert len(response.content) == 20 << 20
    assert set(response.content) == {ord("x")}


def test_each_streamed_chunk_is_flushed_before_the_next_exists(host: HostProcess) -> None:
    client = httpx.Client(base_url=host.base_url, timeout=20)
    with client, client.stream("GET", "/iso-echo/stream") as response:
        lines = response.iter_lines()
        assert next(lines) == "first"  # sent while the app waits for /release
        assert host.client.post("/iso-echo/release").status_code == 200
        assert next(lines) == "second"


def test_repeated_headers_both_ways(host: HostProcess) -> None:
    response = host.client.get(
        "/iso-echo/headers", headers=[("x-dup", "a"), ("x-dup", "b"), ("x-request-id", "r-1")]
    )
    assert response.json() == {"x-dup": ["a", "b"]}
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert response.headers["x-request-id"] == "r-1"


def test_websocket_text_bytes_and_close(host: HostProcess) -> None:
    url = f"ws://127.0.0.1:{host.port}/iso-echo/ws"
    with connect(url) as ws:
        assert ws.recv(timeout=10) == "hello /iso-echo"
        ws.send("shout")
        assert ws.recv(timeout=10) == "SHOUT"
        ws.send(b"\x01\x02\x03")
        assert ws.recv(timeout=10) == b"\x03\x02\x01"
        ws.send("close")
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == 4001


def test_app_error_is_a_500_and_the_process_keeps_serving(host: HostProcess) -> None:
    pid = host.status("iso-echo")["pids"][0]
    assert host.client.get("/iso-echo/error").status_code == 500
    assert host.client.get("/iso-echo/").json()["pid"] == pid


def test_request_timeout_answers_504_and_cancels_the_request(host: HostProcess) -> None:
    response = host.client.get("/iso-echo/sleep", params={"seconds": 30})
    assert response.status_code == 504
    assert "did not answer within 2s" in response.json()["detail"]
    assert host.client.get("/iso-echo/sleep", params={"seconds": 0}).status_code == 200


def test_flask_gets_script_name_and_builds_prefixed_urls(host: HostProcess) -> None:
    data = host.client.get("/deep/flask/").json()
    assert data["script_name"] == "/deep/flask"
    assert data["path_info"] == "/"
    assert data["url_for"] == "/deep/flask/"
    assert data["remote_addr"] == "127.0.0.1"
    assert host.client.post("/deep/flask/echo", content=b"abc" * 1000).content == b"abc" * 1000
    assert host.client.get("/deep/flask/chunks").text == "one\ntwo\n"


def test_functions_plugin_in_a_worker(host: HostProcess) -> None:
    data = host.client.get("/iso-functions/hello", params={"name": "iso"}).json()
    assert data["message"] == "hello iso"
    assert data["pid"] == host.status("iso-functions")["pids"][0]


def test_concurrent_requests_share_one_worker(host: HostProcess) -> None:
    errors: list[object] = []

    def hammer() -> None:
        with httpx.Client(base_url=host.base_url, timeout=20) as client:
            for _ in range(50):
                response = client.get("/iso-echo/sleep", params={"seconds": 0.001})
                if response.status_code != 200:
                    errors.append(response.status_code)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []


def test_a_plugin_that_fails_to_import_fails_start_with_its_error(tmp_path: Path) -> None:
    host = start_host(tmp_path, {"iso-broken": {}, "iso-functions": {}})
    try:
        error = host.status("iso-broken")["error"]
        assert "ImportError" in error and "not_a_module_anywhere" in error
        assert host.status("iso-broken")["pids"] == []
        # ... and nothing of it keeps running, while the other plugin serves.
        assert wait_for(lambda: host.client.get("/iso-functions/hello").status_code == 200)
    finally:
        host.stop()
