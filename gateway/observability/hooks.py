"""The gateway's own observability as a pluggy plugin, built on the same hooks an extension
gets (CONTRACT section 12): ``gateway_wrap_app`` (``trylast``: outermost) wraps every plugin
version in :class:`~.access.Instrumented`, and the lifecycle hooks feed the load and status
metrics. One :class:`Observability` per gateway, registered before any extension (see
:func:`gateway.extensions.build_plugin_manager`), so that among ``trylast`` wrappers it is
the outermost.
"""

from __future__ import annotations

import asyncio

from ..config import Config
from ..hookspecs import GatewayView, hookimpl
from ..plugin import PluginInfo
from ..types import ASGIApp
from .access import Instrumented
from .metrics import Metrics, NoMetrics
from .request_ids import RequestIds

__all__ = ["PLUGIN_NAME", "Observability"]

#: the name it is registered under in the plugin manager
PLUGIN_NAME = "gateway.observability"


class Observability:
    """Request ids, metrics and logs for one gateway (``metrics.enabled: false``: no
    metrics are kept and nothing is counted; request ids and logs stay)."""

    def __init__(self, config: Config) -> None:
        self.metrics: Metrics | NoMetrics = Metrics() if config.metrics.enabled else NoMetrics()
        self.access_log = config.server.access_log
        self.ids = RequestIds()

    def __repr__(self) -> str:
        return f"Observability({self.metrics!r}, access_log={self.access_log})"

    def wrap(self, app: ASGIApp, plugin: str, generation: int = 0) -> Instrumented:
        """``app`` instrumented as plugin ``plugin`` (``""``: the root app's own answers)."""
        metrics = self.metrics
        stats = metrics.plugin(plugin) if isinstance(metrics, Metrics) else None
        return Instrumented(
            app, plugin, generation, ids=self.ids, stats=stats, access_log=self.access_log
        )

    @hookimpl(trylast=True)
    def gateway_wrap_app(self, app: ASGIApp, plugin: PluginInfo) -> ASGIApp:
        return self.wrap(app, plugin.name, plugin.generation)

    @hookimpl
    def gateway_started(self, gateway: GatewayView) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # started outside an event loop (a test): flushed at scrapes only
            return
        if isinstance(self.metrics, Metrics):
            self.metrics.start(loop)

    @hookimpl
    def gateway_stopped(self, gateway: GatewayView) -> None:
        if isinstance(self.metrics, Metrics):
            self.metrics.stop()

    @hookimpl
    def gateway_plugin_loaded(self, plugin: PluginInfo, gateway: GatewayView) -> None:
        if isinstance(self.metrics, Metrics):
            self.metrics.plugin_loaded(plugin.name, plugin.status)

    @hookimpl
    def gateway_plugin_failed(self, plugin: PluginInfo, gateway: GatewayView) -> None:
        if isinstance(self.metrics, Metrics):
            self.metrics.plugin_failed(plugin.name, plugin.status)

    @hookimpl
    def gateway_plugin_unloaded(self, plugin: PluginInfo, gateway: GatewayView) -> None:
        if isinstance(self.metrics, Metrics):
            self.metrics.plugin_unloaded(plugin.name)

    @hookimpl
    def gateway_plugin_restarting(self, plugin: PluginInfo, gateway: GatewayView) -> None:
        self.metrics.process_restart(plugin.name)
        self.metrics.set_status(plugin.name, plugin.status)

    @hookimpl
    def gateway_plugin_recovered(self, plugin: PluginInfo, gateway: GatewayView) -> None:
        self.metrics.set_status(plugin.name, plugin.status)
