"""The plugin gateway: FastAPI, Flask, Django and function plugins, hot-loaded from a folder
and served on one port.

Plugin authors use :func:`endpoint` and :class:`HTTPError` (``functions`` plugins); extension
authors use :data:`hookimpl` (see :mod:`gateway.hookspecs`).
"""

from __future__ import annotations

from .app import Gateway
from .config import Config, load_config
from .errors import ConfigError, GatewayError, PluginError, RestartRequired
from .functions import HTTPError, endpoint
from .hookspecs import hookimpl
from .loader import PluginSource
from .registry import PluginInfo

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
