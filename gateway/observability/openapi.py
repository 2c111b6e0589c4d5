"""One OpenAPI document for the whole gateway (``GET /_gateway/openapi.json``, CONTRACT
section 15), merged from every serving plugin that describes its API: anything whose app
has an ``openapi()`` method returning a document (FastAPI, functions plugins, ...).

Each plugin's part is made unambiguous: its paths get the plugin's prefix; its operation ids
and component names become ``<plugin>__<name>`` (every ``$ref`` and security requirement
rewritten to match); its operations get one tag, the plugin's name. Names never show the
per-version module a plugin is imported as (``gateway_plugin_<name>_<n>``, which FastAPI puts
into schema names when two models share one): they stay the same across reloads.
"""

from __future__ import annotations

import copy
import logging
import re
import types
from collections.abc import Callable, Iterable
from typing import Any

from ..namespace import PACKAGE_PREFIX

__all__ = ["describe", "merge", "renamed", "stabilize", "stable_name"]

logger = logging.getLogger(__name__)

OPENAPI_VERSION = "3.1.0"
_INTERNAL = re.compile(re.escape(PACKAGE_PREFIX) + r"\w+?_\d+(?:__|\.|_(?=[A-Za-z]))")
_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def stable_name(name: str) -> str:
    """``name`` without an internal module name: ``gateway_plugin_shop_3__models__Item`` is
    ``models__Item``."""
    return _INTERNAL.sub("", name) or name


def describe(app: object, asgi_app: object) -> dict[str, Any] | None:
    """The OpenAPI document a plugin's app gives, or ``None`` if it describes nothing."""
    candidates = [asgi_app] if isinstance(app, types.ModuleType) else [asgi_app, app]
    for candidate in candidates:
        openapi = getattr(candidate, "openapi", None)
        if callable(openapi):
            document = openapi()
            if isinstance(document, dict) and isinstance(document.get("paths"), dict):
                return document
    return None


def merge(parts: Iterable[tuple[str, str, str | None, dict[str, Any]]]) -> dict[str, Any]:
    """The merged document of ``parts``: (plugin name, prefix, framework, its document)."""
    paths: dict[str, Any] = {}
    components: dict[str, dict[str, Any]] = {}
    tags = []
    for plugin, prefix, framework, document in parts:
        tags.append(
            {"name": plugin, "description": f"{framework or 'plugin'} plugin at {prefix or '/'}"}
        )
        own = renamed(document, _namespace(plugin), tag=plugin)
        base = "" if prefix == "/" else prefix.rstrip("/")
        paths.update({base + path: item for path, item in own.get("paths", {}).items()})
        for section, entries in own.get("components", {}).items():
            components.setdefault(section, {}).update(entries)
    merged: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Plugin gateway",
            "version": "1",
            "description": "Every plugin that describes its API, under its prefix.",
        },
        "paths": paths,
        "tags": tags,
    }
    if components:
        merged["components"] = components
    return merged


def _namespace(plugin: str) -> Callable[[str], str]:
    def rename(name: str) -> str:
        return f"{plugin}__{stable_name(name)}"

    return rename


def stabilize(app: object) -> None:
    """Make a FastAPI app's own ``/openapi.json`` name things without the per-version module
    (FastAPI's documented way: replace ``app.openapi``); other apps are left alone."""
    original = getattr(app, "openapi", None)
    if not callable(original) or not hasattr(app, "openapi_schema"):
        return
    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        document = original()
        if cache.get("source") is not document:  # FastAPI builds it once; so do we
            cache["source"], cache["stable"] = document, renamed(document, stable_name)
        stable: dict[str, Any] = cache["stable"]
        return stable

    app.openapi = openapi  # type: ignore[attr-defined]


def renamed(
    document: dict[str, Any], rename: Callable[[str], str], *, tag: str | None = None
) -> dict[str, Any]:
    """A copy of ``document`` whose operation ids and component names are ``rename``d (every
    ``$ref`` and security requirement following), its operations tagged ``tag`` if given."""
    document = copy.deepcopy(document)
    refs: dict[str, str] = {}  # "#/components/schemas/Item" -> "#/components/schemas/p__Item"
    schemes: dict[str, str] = {}  # security schemes are referred to by name, not by $ref
    components: dict[str, dict[str, Any]] = {}
    for section, entries in (document.get("components") or {}).items():
        if not isinstance(entries, dict):
            continue
        components[section] = {}
        for name, value in entries.items():
            new = rename(name)
            refs[f"#/components/{section}/{name}"] = f"#/components/{section}/{new}"
            if section == "securitySchemes":
                schemes[name] = new
            components[section][new] = value
    if components:
        document["components"] = components
    default_security = document.pop("security", None) if tag is not None else None
    for item in (document.get("paths") or {}).values():
        if not isinstance(item, dict):
            continue
        for method, operation in item.items():
            if method not in _METHODS or not isinstance(operation, dict):
                continue
            if "operationId" in operation:
                operation["operationId"] = rename(operation["operationId"])
            if tag is not None:
                operation["tags"] = [tag]
            security = operation.get("security", default_security)
            if security is not None:
                operation["security"] = [
                    {schemes.get(name, name): scopes for name, scopes in requirement.items()}
                    for requirement in security
                ]
    if "security" in document:
        document["security"] = [
            {schemes.get(name, name): scopes for name, scopes in requirement.items()}
            for requirement in document["security"]
        ]
    _rewrite_refs(document, refs)
    return document


def _rewrite_refs(node: Any, refs: dict[str, str]) -> None:
    """Point every ``$ref`` under ``node`` at the renamed components, in place."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            ref = current.get("$ref")
            if isinstance(ref, str) and ref in refs:
                current["$ref"] = refs[ref]
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
