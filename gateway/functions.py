"""``functions`` plugins: plain functions become JSON endpoints, no web framework needed.

A plugin author decorates functions with :func:`endpoint` and raises :class:`HTTPError`; the
gateway finds them with :func:`collect_endpoints` and serves them with :func:`build_app`.
Parameters bind by name (path, then query string, then JSON body fields) and are validated by
pydantic; the return value becomes the JSON body.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import http
import inspect
import json
import logging
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, overload

import pydantic
import pydantic_core
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route, Router, compile_path

from .dashboard import standalone_docs_page
from .functions_openapi import Operation, openapi_document
from .types import Receive, Scope, Send

__all__ = ["Endpoint", "FunctionsApp", "HTTPError", "build_app", "collect_endpoints", "endpoint"]

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "__gateway_endpoint__"
_SCALARS: tuple[type, ...] = (str, int, float, bool)
_SUPPORTED = "str, int, float, bool, list[...] of those, 'X | None', Request or no annotation"
_NO_BODY_STATUSES = frozenset({204, 205, 304})


class HTTPError(Exception):
    """Raise from an endpoint to answer with ``status_code`` and ``{"detail": detail}``."""

    def __init__(
        self, status_code: int, detail: Any = None, headers: Mapping[str, str] | None = None
    ) -> None:
        if detail is None:
            try:
                detail = http.HTTPStatus(status_code).phrase
            except ValueError:
                detail = ""
        super().__init__(status_code, detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = dict(headers or {})


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One function served at ``path`` for ``methods`` (as declared; checked by build_app)."""

    path: str
    methods: tuple[str, ...]
    func: Callable[..., Any]


@overload
def endpoint(path: F, *, methods: Sequence[str] = ...) -> F: ...
@overload
def endpoint(path: str | None = None, *, methods: Sequence[str] = ...) -> Callable[[F], F]: ...
def endpoint(
    path: str | Callable[..., Any] | None = None, *, methods: Sequence[str] = ("GET",)
) -> Any:
    """Mark a function as a JSON endpoint; use bare (``@endpoint``) or called.

    The path defaults to ``"/" + function name``. The function is returned unchanged, so it
    stays a plain callable; stacking the decorator serves it at several paths.
    """
    # a lone string would otherwise be read as a sequence of one-letter methods
    method_seq = (methods,) if isinstance(methods, str) else methods
    method_tuple = tuple(m.upper() if isinstance(m, str) else m for m in method_seq)

    def mark(func: F) -> F:
        entry = Endpoint(path if isinstance(path, str) else f"/{func.__name__}", method_tuple, func)
        setattr(func, _MARK, (*getattr(func, _MARK, ()), entry))
        return func

    return mark(path) if callable(path) else mark


def collect_endpoints(module: types.ModuleType) -> list[Endpoint]:
    """The endpoints marked in ``module``'s namespace, in definition order."""
    seen: set[int] = set()
    found: list[Endpoint] = []
    for value in list(vars(module).values()):
        marks = getattr(value, _MARK, None) if callable(value) else None
        if not isinstance(marks, tuple) or id(value) in seen:
            continue
        seen.add(id(value))
        # stacked decorators apply bottom-up; list them in the order they are written
        found.extend(reversed([m for m in marks if isinstance(m, Endpoint)]))
    return found


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    field: str  # the model's field name; the parameter name is its alias (may shadow BaseModel)
    in_path: bool
    is_list: bool


class _Handler:
    """One endpoint with everything a request needs precomputed."""

    def __init__(self, ep: Endpoint, executor: concurrent.futures.Executor | None) -> None:
        self.endpoint = ep
        self.executor = executor
        self.is_async = inspect.iscoroutinefunction(ep.func)
        self.request_params: list[str] = []
        self.params: list[_Param] = []
        where = f"endpoint {ep.func.__qualname__!r} ({','.join(ep.methods)} {ep.path})"
        try:
            _, _, convertors = compile_path(ep.path)
            hints = typing.get_type_hints(ep.func)
            signature = inspect.signature(ep.func)
        except (ValueError, AssertionError, TypeError, NameError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        fields: dict[str, Any] = {}
        for param in signature.parameters.values():
            if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                raise ValueError(f"{where}: parameter {param.name!r} must be a named parameter")
            hint = hints.get(param.name, Any)
            if hint is Request:
                self.request_params.append(param.name)
                continue
            inner, is_list = _check_annotation(hint)
            if not inner:
                raise ValueError(
                    f"{where}: parameter {param.name!r} has unsupported annotation {hint!r} "
                    f"(expected {_SUPPORTED})"
                )
            if is_list and param.name in convertors:
                raise ValueError(f"{where}: path parameter {param.name!r} cannot be a list")
            field = f"p{len(self.params)}"
            default = ... if param.default is param.empty else param.default
            fields[field] = (hint, pydantic.Field(default, alias=param.name))
            self.params.append(_Param(param.name, field, param.name in convertors, is_list))
        if unbound := set(convertors) - {p.name for p in self.params if p.in_path}:
            raise ValueError(
                f"{where}: path parameter(s) {sorted(unbound)} have no matching parameter"
            )
        try:
            self.model = pydantic.create_model(f"{ep.func.__name__}_params", **fields)
        except (TypeError, ValueError, pydantic.PydanticUserError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        self.reads_body = any(not p.in_path for p in self.params)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            kwargs = await self._bind(request)
        except ClientDisconnect:
            return
        except _Reject as reject:
            await reject.response(scope, receive, send)
            return
        kwargs.update(dict.fromkeys(self.request_params, request))
        try:
            result = await self._call(kwargs)
            if not isinstance(result, Response):
                result = _json_response(200, result)
        except (HTTPError, HTTPException) as exc:
            result = _error_response(exc.status_code, exc.detail, exc.headers)
        except Exception:
            ep = self.endpoint
            logger.exception(
                "endpoint %s (%s %s) failed", ep.func.__qualname__, request.method, ep.path
            )
            result = _json_response(500, {"detail": "Internal Server Error"})
        await result(scope, receive, send)

    async def _call(self, kwargs: dict[str, Any]) -> Any:
        if self.is_async:
            return await self.endpoint.func(**kwargs)
        # the copied context carries contextvars (request-scoped state) into the worker thread
        call = functools.partial(contextvars.copy_context().run, self.endpoint.func, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self.executor, call)

    async def _bind(self, request: Request) -> dict[str, Any]:
        if not self.params:
            return {}
        path_params: dict[str, Any] = request.path_params
        query = request.query_params
        body = await _json_body(request) if self.reads_body else None
        values: dict[str, Any] = {}
        origins: dict[str, str] = {}
        for p in self.params:
            if p.in_path:
                values[p.name], origins[p.name] = path_params[p.name], "path"
            elif p.name in query:
                values[p.name] = query.getlist(p.name) if p.is_list else query[p.name]
                origins[p.name] = "query"
            elif body is not None and p.name in body:
                values[p.name], origins[p.name] = body[p.name], "body"
        try:
            model = self.model.model_validate(values)
        except pydantic.ValidationError as exc:
            missing_from = "body" if body is not None else "query"
            detail = [
                {
                    "loc": [origins.get(str(e["loc"][0]), missing_from), *e["loc"]],
                    "msg": e["msg"],
                    "type": e["type"],
                }
                for e in exc.errors(include_url=False)
            ]
            raise _Reject(_json_response(422, {"detail": detail})) from None
        return {p.name: getattr(model, p.field) for p in self.params}


class _Reject(Exception):
    """The request cannot be bound; ``response`` says why."""

    def __init__(self, response: Response) -> None:
        self.response = response


class _PathApp:
    """Every endpoint at one path, dispatched by method (405 JSON for the others)."""

    def __init__(self, path: str, handlers: dict[str, _Handler]) -> None:
        self.path = path
        self.handlers = dict(handlers)
        if "GET" in handlers:
            self.handlers.setdefault("HEAD", handlers["GET"])
        self.allow = ", ".join(sorted(self.handlers))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path!r}, methods={self.allow!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.handlers.get(scope["method"])
        if handler is None:
            response = _error_response(405, None, {"Allow": self.allow})
            await response(scope, receive, send)
            return
        await handler(scope, receive, send)


def build_app(
    endpoints: Sequence[Endpoint],
    executor: concurrent.futures.Executor | None = None,
    *,
    title: str = "functions",
) -> FunctionsApp:
    """An ASGI app serving ``endpoints``; sync functions run in ``executor``. It also serves
    its OpenAPI document at ``/openapi.json`` and a page browsing it at ``/docs`` (unless an
    endpoint has either path); ``title`` is the document's title.

    Raises ``ValueError`` naming the function when a definition is invalid.
    """
    by_path: dict[str, dict[str, _Handler]] = {}
    for ep in endpoints:
        name = ep.func.__qualname__
        if not isinstance(ep.path, str) or not ep.path.startswith("/"):
            raise ValueError(f"endpoint {name!r}: path {ep.path!r} must start with '/'")
        if not ep.methods or not all(isinstance(m, str) and m.isalpha() for m in ep.methods):
            raise ValueError(f"endpoint {name!r}: methods {ep.methods!r} must be HTTP method names")
        if inspect.isgeneratorfunction(ep.func) or inspect.isasyncgenfunction(ep.func):
            raise ValueError(f"endpoint {name!r}: generators are not supported; return a value")
        handler = _Handler(ep, executor)
        routes = by_path.setdefault(ep.path, {})
        for method in ep.methods:
            if method in routes:
                other = routes[method].endpoint.func.__qualname__
                raise ValueError(
                    f"endpoint {name!r}: {method} {ep.path} is already served by {other!r}"
                )
            routes[method] = handler
    routes_list = [Route(path, _PathApp(path, handlers)) for path, handlers in by_path.items()]
    operations = [
        Operation(path, method, h.endpoint.func, [(p.name, p.in_path) for p in h.params], h.model)
        for path, handlers in by_path.items()
        for method, h in handlers.items()
    ]
    return FunctionsApp(routes_list, operations, title)


class FunctionsApp(Router):
    """The router of a functions plugin, which describes itself (:meth:`openapi`)."""

    def __init__(self, routes: list[Route], operations: list[Operation], title: str) -> None:
        self.operations = operations
        self.title = title
        self._openapi: dict[str, Any] | None = None
        taken = {route.path for route in routes}
        if "/openapi.json" not in taken:
            routes.append(Route("/openapi.json", self._openapi_json, methods=["GET", "HEAD"]))
        if "/docs" not in taken:
            routes.append(Route("/docs", self._docs, methods=["GET", "HEAD"]))
        super().__init__(routes, default=_not_found)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document of the endpoints (built once)."""
        if self._openapi is None:
            self._openapi = openapi_document(self.operations, self.title)
        return self._openapi

    async def _openapi_json(self, request: Request) -> Response:
        document = self.openapi()
        root = request.scope.get("root_path", "")
        if root:  # where the paths are, as FastAPI says it
            document = {**document, "servers": [{"url": root}]}
        return _json_response(200, document)

    async def _docs(self, request: Request) -> Response:
        body, headers = standalone_docs_page(f"{self.title}: API documentation")
        return Response(body, headers=headers, media_type="text/html")


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1000})
    elif scope["type"] == "http":
        await _error_response(404, None, None)(scope, receive, send)


def _check_annotation(hint: Any) -> tuple[bool, bool]:
    """(supported, is a list) for a parameter annotation."""
    if hint is Any or hint in _SCALARS:
        return True, False
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list:
        return len(args) == 1 and (args[0] in _SCALARS or args[0] is Any), True
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return _check_annotation(rest[0]) if len(rest) == 1 else (False, False)
    return False, False


async def _json_body(request: Request) -> dict[str, Any] | None:
    """The JSON object body, or None when the request has no JSON body."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        return None
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise _Reject(_json_response(400, {"detail": f"Invalid JSON body: {exc}"})) from None
    if not isinstance(body, dict):
        msg = "JSON body must be an object whose fields are the parameters"
        detail = [{"loc": ["body"], "msg": msg, "type": "dict_type"}]
        raise _Reject(_json_response(422, {"detail": detail}))
    return body


def _jsonable(value: Any) -> Any:
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    # dataclasses, datetimes, UUIDs, enums, sets ...; raises for anything else
    return pydantic_core.to_jsonable_python(value)


def _json_response(status: int, content: Any, headers: Mapping[str, str] | None = None) -> Response:
    body = json.dumps(
        content, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_jsonable
    )
    return Response(body.encode(), status, headers, media_type="application/json")


def _error_response(status: int, detail: Any, headers: Mapping[str, str] | None) -> Response:
    if detail is None:
        detail = HTTPError(status).detail
    if status in _NO_BODY_STATUSES or status < 200:
        return Response(None, status, headers)
    return _json_response(status, {"detail": detail}, headers)
