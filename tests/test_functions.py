"""Unit tests for gateway.functions: plain functions served as JSON endpoints."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import dataclasses
import logging
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pydantic
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from gateway.functions import Endpoint, HTTPError, build_app, collect_endpoints, endpoint


@pytest.fixture
def executor() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="shared")
    yield pool
    pool.shutdown(wait=True)


Call = Callable[..., httpx.Response]


@pytest.fixture
def make_client(executor: concurrent.futures.Executor) -> Callable[..., Call]:
    """Build an app from functions and return ``call(method, url, **kwargs)``."""

    def factory(*funcs: Callable[..., Any]) -> Call:
        module = types.ModuleType("plugin_under_test")
        for i, func in enumerate(funcs):
            setattr(module, f"f{i}", func)
        app = build_app(collect_endpoints(module), executor)

        def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
            async def go() -> httpx.Response:
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                    return await client.request(method, url, **kwargs)

            return asyncio.run(go())

        return call

    return factory


# --- decorator and collection ------------------------------------------------------------


def test_decorator_returns_function_unchanged() -> None:
    def add(a: int, b: int = 2) -> int:
        return a + b

    assert endpoint(add) is add
    assert endpoint("/sum", methods=["POST"])(add) is add
    assert add(1) == 3


def test_default_path_and_methods() -> None:
    @endpoint
    def hello() -> str:
        return "hi"

    module = types.ModuleType("m")
    module.hello = hello  # type: ignore[attr-defined]
    module.alias = hello  # type: ignore[attr-defined]
    assert collect_endpoints(module) == [Endpoint("/hello", ("GET",), hello)]


def test_collect_in_definition_order_ignores_unmarked() -> None:
    module = types.ModuleType("m")
    exec(
        "from gateway.functions import endpoint\n"
        "@endpoint\ndef b(): pass\n"
        "def helper(): pass\n"
        "@endpoint('/a', methods='post')\ndef a(): pass\n",
        module.__dict__,
    )
    found = collect_endpoints(module)
    assert [(e.path, e.methods, e.func.__name__) for e in found] == [
        ("/b", ("GET",), "b"),
        ("/a", ("POST",), "a"),
    ]


def test_stacked_decorators_serve_several_paths(make_client: Callable[..., Call]) -> None:
    @endpoint("/one")
    @endpoint("/two", methods=["POST"])
    def both() -> int:
        return 1

    module = types.ModuleType("m")
    module.both = both  # type: ignore[attr-defined]
    assert [e.path for e in collect_endpoints(module)] == ["/one", "/two"]
    call = make_client(both)
    assert call("GET", "/one").json() == call("POST", "/two").json() == 1


# --- binding -------------------------------------------------------------------------------


def test_default_path_serves_json(make_client: Callable[..., Call]) -> None:
    @endpoint
    def hello() -> dict[str, str]:
        return {"message": "héllo"}

    r = make_client(hello)("GET", "/hello")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.content == '{"message":"héllo"}'.encode()


def test_custom_path_and_methods(make_client: Callable[..., Call]) -> None:
    @endpoint("/things", methods=["GET", "POST"])
    def things() -> str:
        return "ok"

    call = make_client(things)
    assert call("GET", "/things").json() == "ok"
    assert call("POST", "/things").json() == "ok"
    assert call("GET", "/things_").status_code == 404


def test_path_params(make_client: Callable[..., Call]) -> None:
    @endpoint("/items/{item_id}/{slug}")
    def item(item_id: int, slug: str) -> dict[str, Any]:
        return {"id": item_id, "slug": slug}

    call = make_client(item)
    assert call("GET", "/items/42/abc").json() == {"id": 42, "slug": "abc"}
    r = call("GET", "/items/x/abc")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["path", "item_id"]


def test_query_scalars_are_coerced(make_client: Callable[..., Call]) -> None:
    @endpoint
    def q(s: str, i: int, f: float, b: bool, u: Any = None) -> list[Any]:
        return [s, i, f, b, u]

    call = make_client(q)
    r = call("GET", "/q", params={"s": "7", "i": "3", "f": "2.5", "b": "true", "u": "x"})
    assert r.json() == ["7", 3, 2.5, True, "x"]
    assert call("GET", "/q?s=a&i=0&f=1&b=0").json() == ["a", 0, 1.0, False, None]


def test_repeated_query_keys_make_a_list(make_client: Callable[..., Call]) -> None:
    @endpoint
    def total(x: list[int], tags: list[str] | None = None) -> list[Any]:
        return [sum(x), tags]

    call = make_client(total)
    assert call("GET", "/total?x=1&x=2&x=4").json() == [7, None]
    assert call("GET", "/total?x=1&tags=a&tags=b").json() == [1, ["a", "b"]]
    r = call("GET", "/total?x=1&x=no")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "x", 1]


def test_json_body_binding(make_client: Callable[..., Call]) -> None:
    @endpoint("/items/{item_id}", methods=["POST"])
    def create(item_id: int, name: str, price: float, tags: list[str], note: Any = None) -> Any:
        return {"id": item_id, "name": name, "price": price, "tags": tags, "note": note}

    call = make_client(create)
    body = {"name": "pen", "price": 1.5, "tags": ["a"], "note": {"k": [1]}}
    assert call("POST", "/items/3", json=body).json() == {"id": 3, **body}
    # the query string wins over the body
    assert call("POST", "/items/3?name=q", json=body).json()["name"] == "q"


def test_json_body_errors(make_client: Callable[..., Call]) -> None:
    @endpoint(methods=["POST"])
    def make(name: str) -> str:
        return name

    call = make_client(make)
    headers = {"content-type": "application/json"}
    r = call("POST", "/make", content=b"{not json", headers=headers)
    assert r.status_code == 400
    assert "Invalid JSON" in r.json()["detail"]
    r = call("POST", "/make", json=["name"])
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body"]
    r = call("POST", "/make", json={"other": 1})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "name"]


def test_missing_param_is_422_naming_it(make_client: Callable[..., Call]) -> None:
    @endpoint
    def need(count: int) -> int:
        return count

    r = make_client(need)("GET", "/need")
    assert r.status_code == 422
    assert r.json() == {
        "detail": [{"loc": ["query", "count"], "msg": "Field required", "type": "missing"}]
    }


def test_malformed_int_is_422_naming_it(make_client: Callable[..., Call]) -> None:
    @endpoint
    def need(count: int) -> int:
        return count

    r = make_client(need)("GET", "/need?count=three")
    assert r.status_code == 422
    (error,) = r.json()["detail"]
    assert error["loc"] == ["query", "count"]
    assert error["type"] == "int_parsing"
    assert error["msg"]


def test_optional_defaults(make_client: Callable[..., Call]) -> None:
    @endpoint
    def page(n: int = 1, q: str | None = None) -> list[Any]:
        return [n, q]

    call = make_client(page)
    assert call("GET", "/page").json() == [1, None]
    assert call("GET", "/page?n=5&q=x").json() == [5, "x"]


def test_request_injection(make_client: Callable[..., Call]) -> None:
    @endpoint(methods=["POST"])
    async def echo(request: Request, a: int) -> dict[str, Any]:
        return {"a": a, "ua": request.headers["x-test"], "body": (await request.json())["a"]}

    r = make_client(echo)("POST", "/echo", json={"a": 5}, headers={"x-test": "yes"})
    assert r.json() == {"a": 5, "ua": "yes", "body": 5}


# --- results and errors --------------------------------------------------------------------


def test_response_passes_through(make_client: Callable[..., Call]) -> None:
    @endpoint
    def raw() -> Response:
        return PlainTextResponse("plain", status_code=201, headers={"x-a": "b"})

    r = make_client(raw)("GET", "/raw")
    assert (r.status_code, r.text, r.headers["x-a"]) == (201, "plain", "b")
    assert r.headers["content-type"].startswith("text/plain")


class Item(pydantic.BaseModel):
    name: str
    price: float


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_model_and_dataclass_returns(make_client: Callable[..., Call]) -> None:
    @endpoint
    def item() -> Item:
        return Item(name="pen", price=2)

    @endpoint
    def points() -> dict[str, Any]:
        return {"p": Point(1, 2), "items": [Item(name="a", price=1)]}

    call = make_client(item, points)
    assert call("GET", "/item").json() == {"name": "pen", "price": 2.0}
    assert call("GET", "/points").json() == {
        "p": {"x": 1, "y": 2},
        "items": [{"name": "a", "price": 1.0}],
    }


def test_http_error(make_client: Callable[..., Call]) -> None:
    @endpoint
    def gone() -> None:
        raise HTTPError(404, "no such item", headers={"x-reason": "gone"})

    @endpoint
    async def teapot() -> None:
        raise HTTPError(418)

    call = make_client(gone, teapot)
    r = call("GET", "/gone")
    assert (r.status_code, r.json(), r.headers["x-reason"]) == (
        404,
        {"detail": "no such item"},
        "gone",
    )
    r = call("GET", "/teapot")
    assert (r.status_code, r.json()) == (418, {"detail": "I'm a Teapot"})


def test_unexpected_exception_is_500_and_logged(
    make_client: Callable[..., Call], caplog: pytest.LogCaptureFixture
) -> None:
    @endpoint
    def boom() -> None:
        raise RuntimeError("secret internals")

    @endpoint
    def not_json() -> object:
        return object()

    call = make_client(boom, not_json)
    with caplog.at_level(logging.ERROR, logger="gateway.functions"):
        r = call("GET", "/boom")
        assert (r.status_code, r.json()) == (500, {"detail": "Internal Server Error"})
        assert "secret" not in r.text
        assert call("GET", "/not_json").status_code == 500
    assert "boom" in caplog.text
    assert any(
        rec.exc_info and "secret internals" in str(rec.exc_info[1]) for rec in caplog.records
    )


def test_not_found_and_method_not_allowed(make_client: Callable[..., Call]) -> None:
    @endpoint("/x")
    def read() -> str:
        return "r"

    @endpoint("/x", methods=["PUT"])
    def write() -> str:
        return "w"

    call = make_client(read, write)
    assert call("PUT", "/x").json() == "w"
    r = call("GET", "/nowhere")
    assert (r.status_code, r.json()) == (404, {"detail": "Not Found"})
    r = call("DELETE", "/x")
    assert (r.status_code, r.json()) == (405, {"detail": "Method Not Allowed"})
    assert r.headers["allow"] == "GET, HEAD, PUT"


# --- threads -------------------------------------------------------------------------------


def test_sync_runs_in_executor_async_on_loop(make_client: Callable[..., Call]) -> None:
    @endpoint
    def sync_name() -> str:
        return threading.current_thread().name

    @endpoint
    async def async_name() -> bool:
        return threading.current_thread() is threading.main_thread()

    call = make_client(sync_name, async_name)
    assert call("GET", "/sync_name").json().startswith("shared")
    assert call("GET", "/async_name").json() is True


REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("REQUEST_ID", default="unset")


def test_sync_function_sees_contextvars(executor: concurrent.futures.Executor) -> None:
    @endpoint
    def whoami() -> str:
        return REQUEST_ID.get()

    module = types.ModuleType("m")
    module.whoami = whoami  # type: ignore[attr-defined]
    app = build_app(collect_endpoints(module), executor)

    async def go() -> str:
        # ASGITransport runs the app in this task, so the variable set here is the request's
        REQUEST_ID.set("req-1")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return str((await client.get("/whoami")).json())

    assert asyncio.run(go()) == "req-1"


# --- invalid definitions -------------------------------------------------------------------


def _bad_annotation(x: dict[str, int]) -> None: ...
def _bad_path_param(x: int) -> None: ...
def _star_args(*args: int) -> None: ...
def _first() -> None: ...
def _second() -> None: ...


@pytest.mark.parametrize(
    ("endpoints", "message"),
    [
        ([Endpoint("/a", ("GET",), _bad_annotation)], "unsupported annotation"),
        ([Endpoint("/a/{y}", ("GET",), _bad_path_param)], "'y'"),
        ([Endpoint("/a", ("GET",), _star_args)], "named parameter"),
        ([Endpoint("a", ("GET",), _first)], "must start with '/'"),
        ([Endpoint("/a", ("GET",), _first), Endpoint("/a", ("GET",), _second)], "already served"),
        ([Endpoint("/a", ("G ET",), _first)], "methods"),
    ],
)
def test_invalid_definitions_raise_value_error(endpoints: list[Endpoint], message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        build_app(endpoints, None)
    assert endpoints[-1].func.__qualname__ in str(info.value)
