"""What the gateway tells a worker process to run: :class:`WorkerSpec`."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Config
    from ..manifest import Manifest


@dataclass(frozen=True)
class WorkerSpec:
    """One isolated plugin version, as the registry resolved it from ``plugin.yaml`` and the
    configuration (section 14 of the contract)."""

    name: str
    folder: Path
    #: the plugin's prefix; the worker's app sees it as ``root_path`` / ``SCRIPT_NAME``, as
    #: the gateway's scope gives it
    prefix: str
    #: the gateway's data folder: the worker runs in ``data_dir/isolated/<name>`` (so what a
    #: framework writes never lands in the plugins folder) and venvs live in ``data_dir/venvs``
    data_dir: Path
    framework: str | None = None
    app: str | None = None
    processes: int = 1
    #: added to, and overriding, the environment the worker inherits
    env: Mapping[str, str] = field(default_factory=dict)
    venv: bool = False
    memory_mb: int | None = None
    max_requests: int | None = None
    request_timeout_s: float | None = None
    #: how long one process may take to load the plugin and run its lifespan startup, on a
    #: restart or a recycle (the first start takes ``IsolatedPlugin.start``'s own timeout)
    start_timeout_s: float = 60.0
    python: str = sys.executable
    #: the gateway's ``django.settings`` and ``wsgi.threads``, for the worker's own runtime
    django_settings: Mapping[str, Any] = field(default_factory=dict)
    wsgi_threads: int = 32
    #: the gateway's ``extensions:`` (entry-point extensions load in the worker by themselves)
    extensions: tuple[str, ...] = ()
    log_level: str = "info"

    @classmethod
    def for_plugin(
        cls, name: str, folder: Path, manifest: Manifest, config: Config, data_dir: Path
    ) -> WorkerSpec:
        """The spec of ``name``'s plugin from its manifest and the gateway's configuration."""
        return cls(
            name=name,
            folder=folder,
            prefix=manifest.prefix,
            data_dir=data_dir,
            framework=manifest.framework,
            app=manifest.app,
            processes=manifest.processes,
            env=dict(manifest.env),
            venv=manifest.venv,
            memory_mb=manifest.memory_mb,
            max_requests=manifest.max_requests,
            # The gateway's own limits (gateway.containment) wrap the proxy: 504 there.
            request_timeout_s=None,
            start_timeout_s=config.plugins.load_timeout_s,
            django_settings=dict(config.django.settings),
            wsgi_threads=config.wsgi.threads,
            extensions=tuple(config.extensions),
            log_level=config.server.log_level,
        )

    @property
    def workdir(self) -> Path:
        return self.data_dir / "isolated" / self.name

    @property
    def venvs_dir(self) -> Path:
        return self.data_dir / "venvs"

    def to_json(self) -> str:
        """For the worker's command line; ``env`` is left out (it is the process's environment,
        and may hold secrets that have no place in ``ps`` output)."""
        data = asdict(self)
        data.update(folder=str(self.folder), data_dir=str(self.data_dir), env={})
        data["django_settings"] = dict(self.django_settings)
        data["extensions"] = list(self.extensions)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> WorkerSpec:
        data = json.loads(text)
        data.update(folder=Path(data["folder"]), data_dir=Path(data["data_dir"]))
        data["extensions"] = tuple(data.get("extensions", ()))
        return cls(**data)
