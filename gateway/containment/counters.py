"""What containment counts per plugin: the numbers the metrics read.

One :class:`PluginCounters` per plugin name lives as long as the gateway (across reloads),
so a counter never goes back to zero while the process runs, as Prometheus counters expect.
Each is written by one thread only (the event loop, or the stall watchdog for ``stalls``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PluginCounters:
    """Totals since start-up for one plugin (``gateway_<field>_total{plugin}``)."""

    #: times the plugin held the event loop longer than ``server.loop_stall_ms``
    loop_stalls: int = 0
    #: requests answered 413: body over ``limits.max_body_bytes``
    body_too_large: int = 0
    #: requests answered 431 after routing: over the plugin's own, lower, header limits
    headers_too_large: int = 0
    #: requests answered 503: ``max_concurrency`` reached and its queue full
    queue_full: int = 0
    #: requests past ``limits.request_timeout_s``: answered 504, or aborted if already answering
    timeouts: int = 0
