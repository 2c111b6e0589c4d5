"""Lifecycle events as pluggy hooks: what the registry reports, extensions hear."""

from __future__ import annotations

import logging
from typing import Any

from pluggy import HookRelay

from .hookspecs import GatewayView
from .plugin import PluginInfo

logger = logging.getLogger(__name__)


class HookEvents:
    """Calls the lifecycle hooks; an extension failing in one is logged, never raised (the
    change it reports has happened either way)."""

    def __init__(self, hooks: HookRelay, gateway: GatewayView) -> None:
        self.hooks = hooks
        self.gateway = gateway

    def __repr__(self) -> str:
        return "HookEvents()"

    def started(self) -> None:
        self._call("gateway_started", gateway=self.gateway)

    def stopped(self) -> None:
        self._call("gateway_stopped", gateway=self.gateway)

    def plugin_loaded(self, info: PluginInfo) -> None:
        self._call("gateway_plugin_loaded", plugin=info, gateway=self.gateway)

    def plugin_failed(self, info: PluginInfo) -> None:
        self._call("gateway_plugin_failed", plugin=info, gateway=self.gateway)

    def plugin_unloaded(self, info: PluginInfo) -> None:
        self._call("gateway_plugin_unloaded", plugin=info, gateway=self.gateway)

    def plugin_restarting(self, info: PluginInfo) -> None:
        self._call("gateway_plugin_restarting", plugin=info, gateway=self.gateway)

    def plugin_recovered(self, info: PluginInfo) -> None:
        self._call("gateway_plugin_recovered", plugin=info, gateway=self.gateway)

    def _call(self, hook_name: str, **kwargs: Any) -> None:
        try:
            getattr(self.hooks, hook_name)(**kwargs)
        except Exception:
            logger.exception("an extension failed in %s", hook_name)
