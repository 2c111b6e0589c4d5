"""A broken extension: its hook name is misspelt (``gateway_load_ap``)."""

from __future__ import annotations

from gateway import hookimpl


@hookimpl
def gateway_load_ap(source: object, framework: str) -> object | None:
    return None
