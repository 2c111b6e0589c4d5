"""The built-in framework kinds, each a pluggy plugin implementing :mod:`gateway.hookspecs`."""

from __future__ import annotations

from types import ModuleType

from . import asgi, django, functions, wsgi

#: registered in this order; recognition tries them newest first (pluggy's LIFO), with the
#: WSGI kind last because "any plain callable" is its catch-all.
BUILTIN_KINDS: tuple[ModuleType, ...] = (asgi, wsgi, functions, django)

__all__ = ["BUILTIN_KINDS"]
