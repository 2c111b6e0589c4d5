"""The plugin gateway: FastAPI, Flask, Django and function plugins, hot-loaded from a folder
and served on one port.

Plugin authors use :func:`endpoint` and :class:`HTTPError` (``functions`` plugins); extension
authors use :data:`hookimpl` (see :mod:`gateway.hookspecs`). Names are imported on first use,
so ``gateway --help`` or a plugin's ``from gateway import endpoint`` does not load the server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import Gateway
    from .config import Config, load_config
    from .errors import ConfigError, GatewayError, PluginError, RestartRequired
    from .functions import HTTPError, endpoint
    from .hookspecs import hookimpl
    from .loader import PluginSource
    from .plugin import PluginInfo

_WHERE = {
    "Config": ".config",
    "ConfigError": ".errors",
    "Gateway": ".app",
    "GatewayError": ".errors",
    "HTTPError": ".functions",
    "PluginError": ".errors",
    "PluginInfo": ".plugin",
    "PluginSource": ".loader",
    "RestartRequired": ".errors",
    "endpoint": ".functions",
    "hookimpl": ".hookspecs",
    "load_config": ".config",
}

__all__ = [
    "Config",
    "ConfigError",
    "Gateway",
    "GatewayError",
    "HTTPError",
    "PluginError",
    "PluginInfo",
    "PluginSource",
    "RestartRequired",
    "endpoint",
    "hookimpl",
    "load_config",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'gateway' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name], __name__), name)
