"""Serving, end to end: the example plugins and the routing fixtures behind one real gateway.

One gateway serves the whole module (``gw``); the tests that stop a gateway start their own.
"""

from __future__ import annotations

import hashlib
import re
import signal
import threading
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import EXAMPLES, GatewayProcess, launch_gateway, wait_for
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

SERVED = (
    EXAMPLES / "fastapi-demo",
    EXAMPLES / "flask-demo",
    EXAMPLES / "functions-demo",
    "shop",
    "shopping",
    "shop-admin",
    "flask-a",
    "flask-b",
    "twins-a",
    "twins-b",
    "flask-instance",
    "starlette-urls",
    "not-admin",
    "wsgi-digest",
)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    gateway = launch_gateway(tmp_path_factory.mktemp("serving"), *SERVED)
    yield gateway
    assert gateway.stop() == 0, gateway.log()


def json_of(gw: GatewayProcess, path: str, status: int = 200) -> Any:
    response = gw.client.get(path)
    assert response.status_code == status, (path, response.status_code, response.text)
    return response.json()


def ws_url(gw: GatewayProcess, path: str) -> str:
    return f"ws://127.0.0.1:{gw.port}{path}"


# -- the example plugins ---------------------------------------------------------------------


def test_fastapi_example_answers(gw: GatewayProcess) -> None:
    assert json_of(gw, "/fastapi-demo/") == {"plugin": "fastapi-demo", "framework": "fastapi"}
    assert json_of(gw, "/fastapi-demo/items/2")["name"] == "pear"  # router in a sibling module
    assert json_of(gw, "/fastapi-demo/items/9", 404) == {"detail": "no such item"}


def test_flask_example_answers(gw: GatewayProcess) -> None:
    assert json_of(gw, "/flask-demo/")["plugin"] == "flask-demo"
    assert json_of(gw, "/flask-demo/hello/bob") == {"message": "hello bob"}  # a blueprint


def test_functions_example_answers(gw: GatewayProcess) -> None:
    assert json_of(gw, "/functions-demo/hello?name=ann") == {"message": "hello ann"}
    assert json_of(gw, "/functions-demo/add?a=2&b=3") == {"sum": 5}
    assert json_of(gw, "/functions-demo/mean?x=1&x=2") == {"mean": 1.5}

    response = gw.client.post("/functions-demo/upper", json={"text": "ab", "times": 2})
    assert response.status_code == 200, response.text
    assert response.json() == {"text": "ABAB"}
    response = gw.client.post("/functions-demo/add", json={"a": 4, "b": 5})
    assert response.status_code == 200, response.text
    assert response.json() == {"sum": 9}


@pytest.mark.parametrize(
    ("method", "path", "body", "parameter"),
    [
        ("GET", "/functions-demo/add?a=1", None, "b"),  # missing
        ("GET", "/functions-demo/add?a=1&b=two", None, "b"),  # not an int
        ("POST", "/functions-demo/upper", {"times": 2}, "text"),  # missing from the JSON body
        ("POST", "/functions-demo/upper", {"text": "x", "times": "many"}, "times"),
    ],
)
def test_functions_bad_parameter_is_422_naming_it(
    gw: GatewayProcess, method: str, path: str, body: Any, parameter: str
) -> None:
    response = gw.client.request(method, path, json=body)
    assert response.status_code == 422, response.text
    named = [entry["loc"][-1] for entry in response.json()["detail"]]
    assert named == [parameter], response.text


# -- prefixes: url_for, redirects, /docs, lifespan state ---------------------------------------


def test_flask_url_for_and_redirect_carry_the_prefix(gw: GatewayProcess) -> None:
    assert json_of(gw, "/flask-demo/")["hello_url"] == "/flask-demo/hello/world"
    response = gw.client.get("/flask-demo/go")
    assert response.status_code == 302
    assert urlsplit(response.headers["location"]).path == "/flask-demo/"
    followed = gw.client.get("/flask-demo/go", follow_redirects=True)
    assert followed.status_code == 200 and followed.json()["plugin"] == "flask-demo"


def test_fastapi_docs_load_openapi_under_the_prefix(gw: GatewayProcess) -> None:
    docs = gw.client.get("/fastapi-demo/docs")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
    match = re.search(r"""url:\s*['"]([^'"]+)['"]""", docs.text)
    assert match, docs.text
    assert match.group(1) == "/fastapi-demo/openapi.json"
    schema = json_of(gw, match.group(1))
    assert schema["info"]["title"] == "fastapi-demo"
    assert "/items/{item_id}" in schema["paths"]


def test_fastapi_lifespan_state_reaches_requests(gw: GatewayProcess) -> None:
    assert json_of(gw, "/fastapi-demo/items/1") == {
        "id": 1,
        "name": "apple",
        "greeting": "hello from fastapi",
    }


def test_two_flask_plugins_keep_separate_sessions(gw: GatewayProcess) -> None:
    def count(client: httpx.Client, plugin: str) -> int:
        response = client.get(f"/{plugin}/count")
        assert response.status_code == 200, response.text
        assert response.json()["plugin"] == plugin
        headers = response.headers.get_list("set-cookie")
        assert headers, "the session was not sent back"
        for header in headers:
            for morsel in SimpleCookie(header).values():
                assert morsel["path"] == f"/{plugin}", header
        return int(response.json()["n"])

    with httpx.Client(base_url=gw.base_url) as browser:  # one cookie jar, like a browser
        seen = [count(browser, p) for p in ("flask-a", "flask-a", "flask-b", "flask-a", "flask-b")]
        assert seen == [1, 2, 1, 3, 2]
        assert sorted(c.path for c in browser.cookies.jar if c.name == "session") == [
            "/flask-a",
            "/flask-b",
        ]


# -- routing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/shop/", {"plugin": "shop"}),
        ("/shop/x/y", {"plugin": "shop", "rest": "x/y"}),
        ("/shop/administrator", {"plugin": "shop", "rest": "administrator"}),
        ("/shopping/", {"plugin": "shopping", "rest": "", "script_name": "/shopping"}),
        ("/shopping/a/b", {"plugin": "shopping", "rest": "a/b", "script_name": "/shopping"}),
        ("/shop/admin", {"plugin": "shop-admin", "root_path": "/shop/admin"}),
        ("/shop/admin/users", {"plugin": "shop-admin", "root_path": "/shop/admin"}),
    ],
)
def test_longest_prefix_on_a_segment_boundary_wins(
    gw: GatewayProcess, path: str, expected: dict[str, str]
) -> None:
    assert json_of(gw, path) == expected


@pytest.mark.parametrize("path", ["/shopx", "/shoppingx/a", "/", "/no-such-plugin/x", "/shop-"])
def test_unmatched_path_is_404_with_a_json_body(gw: GatewayProcess, path: str) -> None:
    response = gw.client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"detail": "Not Found"}


def test_mount_root_without_slash_redirects_under_the_prefix(gw: GatewayProcess) -> None:
    for prefix in ("/shop", "/shopping"):
        response = gw.client.get(prefix)
        assert response.status_code in (307, 308), response.text
        assert urlsplit(response.headers["location"]).path == prefix + "/"


def test_each_twin_sees_its_own_views_and_models(gw: GatewayProcess) -> None:
    a, b = json_of(gw, "/twins-a/"), json_of(gw, "/twins-b/")
    assert (a["who"], b["who"]) == ("twins-a", "twins-b")
    assert a["views_module"] != b["views_module"]
    assert a["top_level_views"] is False and b["top_level_views"] is False


# -- WebSockets --------------------------------------------------------------------------------


def test_websocket_echo_through_the_prefix(gw: GatewayProcess) -> None:
    with connect(ws_url(gw, "/fastapi-demo/ws"), open_timeout=10) as ws:
        for text in ("hello", "second message", "ünïcode"):
            ws.send(text)
            assert ws.recv(timeout=10) == text


@pytest.mark.parametrize("path", ["/flask-demo/ws", "/flask-demo/", "/no-such-plugin/ws"])
def test_websocket_to_a_wsgi_plugin_or_nowhere_is_refused_cleanly(
    gw: GatewayProcess, path: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(gw, path), open_timeout=10)
    assert refused.value.response.status_code == 403
    # the gateway is unharmed and said nothing alarming
    assert json_of(gw, "/flask-demo/")["plugin"] == "flask-demo"
    with connect(ws_url(gw, "/fastapi-demo/ws"), open_timeout=10) as ws:
        ws.send("still here")
        assert ws.recv(timeout=10) == "still here"
    assert "Traceback" not in gw.log()
    assert "ERROR" not in gw.log()


# -- lifecycle: lifespan and SIGTERM -----------------------------------------------------------


def test_lifespan_startup_before_first_request_and_shutdown_on_sigterm(tmp_path: Path) -> None:
    marker = tmp_path / "lifespan-events.log"
    gateway = launch_gateway(
        tmp_path, "lifespan-plugin", env={"LIFESPAN_MARKER_DIR": str(tmp_path)}
    )
    try:
        assert marker.read_text().split() == ["startup"]  # before any request
        assert json_of(gateway, "/lifespan-plugin/") == {"started": True}  # its state too
        assert marker.read_text().split() == ["startup"]
    finally:
        code = gateway.stop()
    assert code == 0, gateway.log()
    assert marker.read_text().split() == ["startup", "shutdown"]


def test_sigterm_lets_an_inflight_wsgi_request_finish_then_exits_0(tmp_path: Path) -> None:
    drain_timeout = 5
    gateway = launch_gateway(
        tmp_path,
        "slow-flask",
        env={
            "SLOW_MARKER_DIR": str(tmp_path),
            "GATEWAY_PLUGINS_DRAIN_TIMEOUT_S": str(drain_timeout),
        },
    )
    assert gateway.proc.args[1:4] == ["-m", "gateway", "run"]  # started as `python -m gateway`
    result: dict[str, httpx.Response | BaseException] = {}

    def slow_request() -> None:
        try:
            with httpx.Client(base_url=gateway.base_url, timeout=30) as client:
                result["response"] = client.get("/slow-flask/slow", params={"s": "1.5"})
        except BaseException as exc:  # reported by the assertion below
            result["response"] = exc

    request = threading.Thread(target=slow_request)
    try:
        request.start()
        wait_for(lambda: (tmp_path / "slow-flask-entered").exists())  # the view is running
        gateway.proc.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        request.join(drain_timeout + 5)
        response = result.get("response")
        assert isinstance(response, httpx.Response), response
        assert response.status_code == 200
        assert response.json() == {"plugin": "slow-flask", "slept": 1.5}
        code = gateway.proc.wait(drain_timeout + 5)
        assert time.monotonic() - stopped_at < drain_timeout + 5
    finally:
        request.join(10)
        gateway.stop()
    assert code == 0, gateway.log()
    assert "Traceback" not in gateway.log()


# -- what real apps build and write under a prefix --------------------------------------------


def test_starlette_url_for_base_url_static_and_redirects_carry_the_prefix(
    gw: GatewayProcess,
) -> None:
    base = gw.base_url
    assert json_of(gw, "/starlette-urls/") == {
        "static": f"{base}/starlette-urls/static/site.css",
        "page": f"{base}/starlette-urls/pages/hello",
        "nested": f"{base}/starlette-urls/api/ping",
        "base_url": f"{base}/starlette-urls/",
    }
    assert json_of(gw, "/starlette-urls/api/ping") == {"ping": f"{base}/starlette-urls/api/ping"}
    assert gw.client.get("/starlette-urls/static/site.css").text.startswith("body")
    redirect = gw.client.get("/starlette-urls/go")
    assert redirect.status_code == 307
    assert redirect.headers["location"] == f"{base}/starlette-urls/pages/there"


def test_flask_instance_folder_is_in_the_data_folder_not_the_plugins_folder(
    gw: GatewayProcess,
) -> None:
    answer = json_of(gw, "/flask-instance/")
    instance = Path(answer["instance_path"])
    assert instance == gw.workdir / "data" / "plugins" / "flask-instance" / "instance"
    assert (instance / "created-at-import.txt").read_text() == "flask-instance"
    assert Path(answer["root_path"]) == gw.plugins_dir / "flask-instance"
    assert not (gw.plugins_dir / "instance").exists()
    listed = {p["name"] for p in gw.admin.get("/_gateway/plugins").json()["plugins"]}
    assert "instance" not in listed


def test_a_prefix_that_only_starts_like_the_admin_prefix_is_a_plugin(gw: GatewayProcess) -> None:
    assert gw.client.get("/_gatewayx/").text == "not the admin API"
    assert gw.client.get("/_gatewayx", follow_redirects=True).text == "not the admin API"
    assert gw.client.get("/_gateway/health").json() == {"status": "ok"}


def test_a_large_body_in_many_pieces_reaches_a_wsgi_app_whole(gw: GatewayProcess) -> None:
    piece = bytes(range(256)) * 256  # 64 KiB
    pieces = 48  # 3 MiB: more than the adapter buffers on the event loop
    body = piece * pieces

    def stream() -> Iterator[bytes]:
        for _ in range(pieces):
            yield piece

    response = gw.client.post(
        "/wsgi-digest/", content=stream(), headers={"Content-Length": str(len(body))}
    )
    assert response.json() == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
