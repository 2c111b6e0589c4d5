"""What the admin API, the lifecycle hooks and extensions see of a plugin: :class:`PluginInfo`
and the status words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: a version serves
ACTIVE = "active"
#: nothing serves (the latest load failed and no older version is there)
FAILED = "failed"
#: ``enabled: false`` in its manifest
DISABLED = "disabled"
#: an older version serves; the change needs a restart of the gateway (Django models)
RESTART_REQUIRED = "restart-required"
#: an isolated plugin's process died and is being restarted (section 14)
RESTARTING = "restarting"

#: the statuses under which the plugin answers requests
SERVING = frozenset({ACTIVE, RESTART_REQUIRED})

ISOLATION_NONE = "none"
ISOLATION_PROCESS = "process"


@dataclass(frozen=True)
class PluginInfo:
    """One plugin as the admin API shows it (``PLUGIN`` in the contract)."""

    name: str
    framework: str | None
    prefix: str | None
    status: str
    generation: int
    loaded_at: str | None
    error: dict[str, str] | None
    isolation: str = ISOLATION_NONE
    pids: list[int] | None = None
    restarts: int | None = None
    rss_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "framework": self.framework,
            "prefix": self.prefix,
            "status": self.status,
            "generation": self.generation,
            "loaded_at": self.loaded_at,
            "error": self.error,
            "isolation": self.isolation,
            "pids": self.pids,
            "restarts": self.restarts,
            "rss_bytes": self.rss_bytes,
        }
