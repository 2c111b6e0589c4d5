"""The OpenAPI document of a ``functions`` plugin, generated from its endpoints' signatures.

Each endpoint's parameters are already a pydantic model (built by :mod:`gateway.functions`
to bind requests), so their JSON Schemas come from pydantic, as FastAPI's do; return
annotations become the 200 response's schema through a ``TypeAdapter``. Path parameters are
``in: path``; the others are query parameters for methods without a body and JSON body
fields for the others (where the gateway binds both, the body is what a client would send).
"""

from __future__ import annotations

import inspect
import re
import typing
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pydantic

__all__ = ["Operation", "openapi_document"]

OPENAPI_VERSION = "3.1.0"
_REF = "#/components/schemas/{model}"
_CONVERTOR = re.compile(r"\{(\w+):[^}]+\}")
_QUERY_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
_VALIDATION_ERROR = {
    "type": "object",
    "properties": {
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
                "required": ["loc", "msg", "type"],
            },
        }
    },
}


@dataclass(frozen=True)
class Operation:
    """One endpoint at one path for one method, as :mod:`gateway.functions` binds it."""

    path: str
    method: str
    func: Callable[..., Any]
    #: (parameter name, whether it is a path parameter), in signature order
    params: Sequence[tuple[str, bool]]
    #: the pydantic model the parameters are validated with (fields aliased by name)
    model: type[pydantic.BaseModel]


def openapi_document(operations: Sequence[Operation], title: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``operations``."""
    components: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    uses = Counter(op.func.__name__ for op in operations)
    for op in operations:
        path = _CONVERTOR.sub(r"{\1}", op.path)  # "/items/{id:int}" is "/items/{id}" in OpenAPI
        operation_id = op.func.__name__
        if uses[operation_id] > 1:  # one function at several paths or for several methods
            slug = "".join(c if c.isalnum() else "_" for c in path).strip("_")
            operation_id = f"{operation_id}_{op.method.lower()}_{slug}".rstrip("_")
        paths.setdefault(path, {})[op.method.lower()] = _operation(op, operation_id, components)
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": "1"},
        "paths": paths,
    }
    if components:
        document["components"] = {"schemas": components}
    return document


def _operation(op: Operation, operation_id: str, components: dict[str, Any]) -> dict[str, Any]:
    schema = op.model.model_json_schema(by_alias=True, ref_template=_REF)
    components.update(schema.pop("$defs", {}))
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    doc = inspect.getdoc(op.func) or ""
    result: dict[str, Any] = {"operationId": operation_id}
    if doc:
        result["summary"] = doc.splitlines()[0]
        result["description"] = doc
    parameters = []
    body_fields: dict[str, Any] = {}
    for name, in_path in op.params:
        field_schema = properties.get(name, {})
        if in_path:
            parameters.append(
                {"name": name, "in": "path", "required": True, "schema": field_schema}
            )
        elif op.method in _QUERY_METHODS:
            parameters.append(
                {"name": name, "in": "query", "required": name in required, "schema": field_schema}
            )
        else:
            body_fields[name] = field_schema
    if parameters:
        result["parameters"] = parameters
    if body_fields:
        body: dict[str, Any] = {"type": "object", "properties": body_fields}
        body_required = [n for n in body_fields if n in required]
        if body_required:
            body["required"] = body_required
        result["requestBody"] = {
            "required": bool(body_required),
            "content": {"application/json": {"schema": body}},
        }
    result["responses"] = {
        "200": _success(op.func, components),
        "422": {
            "description": "A parameter is missing or malformed",
            "content": {"application/json": {"schema": _VALIDATION_ERROR}},
        },
    }
    return result


def _success(func: Callable[..., Any], components: dict[str, Any]) -> dict[str, Any]:
    """The 200 response: the JSON Schema of the return annotation, if there is one."""
    try:
        returns = typing.get_type_hints(func).get("return", Any)
    except (NameError, TypeError):
        returns = Any
    if returns is Any or returns is None or _is_response(returns):
        return {"description": "Successful response"}
    try:
        schema = pydantic.TypeAdapter(returns).json_schema(ref_template=_REF, mode="serialization")
    except (pydantic.PydanticUserError, pydantic.PydanticSchemaGenerationError, TypeError):
        return {"description": "Successful response"}
    components.update(schema.pop("$defs", {}))
    return {
        "description": "Successful response",
        "content": {"application/json": {"schema": schema}},
    }


def _is_response(annotation: object) -> bool:
    from starlette.responses import Response

    return isinstance(annotation, type) and issubclass(annotation, Response)
