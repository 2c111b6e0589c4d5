"""The merged OpenAPI document and the docs pages end to end (CONTRACT section 15): every
plugin that describes its API (FastAPI, functions) under its prefix, operation ids and
schemas namespaced by plugin and free of internal module names, one tag per plugin, valid
per openapi-spec-validator; an isolated plugin's (section 14) as well as in-process ones; the
pages work offline; functions plugins serve their own."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import EXAMPLES, FIXTURES, GatewayProcess, copy_plugin, launch_gateway
from openapi_spec_validator import validate

OPERATIONS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("openapi")
    isolated = copy_plugin(FIXTURES / "api-store", workdir / "plugins", "store-iso")
    (isolated / "plugin.yaml").write_text("isolation: process\n")
    gateway = launch_gateway(
        workdir, "api-store", "api-calc", EXAMPLES / "flask-demo", "broken-raises"
    )
    yield gateway
    assert gateway.stop() == 0, gateway.log()


@pytest.fixture(scope="module")
def merged(gw: GatewayProcess) -> dict[str, Any]:
    response = gw.admin.get("/_gateway/openapi.json")
    assert response.status_code == 200, response.text
    return dict(response.json())


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in OPERATIONS
    ]


def test_the_merged_document_is_valid_openapi(merged: dict[str, Any]) -> None:
    validate(merged)  # raises with the first problem


def test_it_needs_the_token(gw: GatewayProcess) -> None:
    assert gw.client.get("/_gateway/openapi.json").status_code == 401


def test_paths_are_prefixed_and_tagged_by_plugin(merged: dict[str, Any]) -> None:
    assert set(merged["paths"]) == {
        "/api-store/items/{item_id}",
        "/api-store/orders",
        "/api-calc/hello",
        "/api-calc/sum",
        "/api-calc/items/{item_id}",
        "/api-calc/upper",
        "/store-iso/items/{item_id}",
        "/store-iso/orders",
    }
    assert [t["name"] for t in merged["tags"]] == ["api-calc", "api-store", "store-iso"]
    for _, path, op in operations(merged):
        assert op["tags"] == [path.split("/")[1]]


def test_operation_ids_and_schemas_are_namespaced_and_stable(merged: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(merged)]
    assert len(ids) == len(set(ids))
    for _, path, op in operations(merged):
        assert op["operationId"].startswith(path.split("/")[1] + "__")
    assert "api-calc__hello" in ids
    schemas = merged["components"]["schemas"]
    assert {"api-store__catalog__Item", "api-store__orders__Item"} <= set(schemas)
    # the isolated copy's document came from its worker process, named the same way
    assert {"store-iso__catalog__Item", "store-iso__orders__Item"} <= set(schemas)
    assert all(name.startswith(("api-store__", "api-calc__", "store-iso__")) for name in schemas)
    text = json.dumps(merged)
    assert "gateway_plugin_" not in text
    # every reference resolves, and security follows its renamed scheme
    for ref in re.findall(r'"\$ref": "([^"]+)"', text):
        section, name = ref.split("/")[2:4]
        assert name in merged["components"][section], ref
    order = merged["paths"]["/api-store/orders"]["post"]
    assert order["security"] == [{"api-store__HTTPBearer": []}]
    assert "api-store__HTTPBearer" in merged["components"]["securitySchemes"]


def test_functions_parameters_come_from_the_signatures(merged: dict[str, Any]) -> None:
    hello = merged["paths"]["/api-calc/hello"]["get"]
    assert hello["summary"] == "Say hello."
    (name,) = hello["parameters"]
    assert name["name"] == "name" and name["in"] == "query" and name["required"] is False
    assert name["schema"]["type"] == "string"
    add = merged["paths"]["/api-calc/sum"]["get"]
    (x,) = add["parameters"]
    assert x["required"] is True and x["schema"]["type"] == "array"
    assert add["responses"]["200"]["content"]["application/json"]["schema"][
        "properties"
    ].keys() == {
        "total",
        "count",
    }
    item = merged["paths"]["/api-calc/items/{item_id}"]
    assert set(item) == {"get", "delete"}
    path_param = item["get"]["parameters"][0]
    assert path_param == {
        "name": "item_id",
        "in": "path",
        "required": True,
        "schema": path_param["schema"],
    }
    assert path_param["schema"]["type"] == "integer"
    upper = merged["paths"]["/api-calc/upper"]["post"]
    body = upper["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["text"] and set(body["properties"]) == {"text", "times"}


def test_a_functions_plugin_serves_its_own_document_and_page(gw: GatewayProcess) -> None:
    response = gw.client.get("/api-calc/openapi.json")
    assert response.status_code == 200
    own = response.json()
    validate(own)
    assert own["servers"] == [{"url": "/api-calc"}]
    assert set(own["paths"]) == {"/hello", "/sum", "/items/{item_id}", "/upper"}
    page = gw.client.get("/api-calc/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "openapi.json" in page.text
    assert not re.search(r"https?://", page.text)  # nothing from the internet
    assert "'sha256-" in page.headers["content-security-policy"]
    # its endpoints still answer as before
    assert gw.client.get("/api-calc/hello", params={"name": "x"}).json() == {"message": "hello x"}


def test_a_fastapi_plugins_own_document_names_no_internal_module(gw: GatewayProcess) -> None:
    own = gw.client.get("/api-store/openapi.json").json()
    assert {"catalog__Item", "orders__Item"} <= set(own["components"]["schemas"])
    assert "gateway_plugin_" not in json.dumps(own)


def test_the_docs_page_is_offline_and_asks_for_the_token(gw: GatewayProcess) -> None:
    page = gw.client.get("/_gateway/docs")
    assert page.status_code == 200
    assert '<script src="docs.js"' in page.text
    assert not re.search(r"https?://", page.text)
    script = gw.client.get("/_gateway/docs.js")
    assert script.status_code == 200
    assert "openapi.json" in script.text and "Authorization" in script.text
    assert not re.search(r"https?://", script.text)
    assert "default-src 'none'" in page.headers["content-security-policy"]
