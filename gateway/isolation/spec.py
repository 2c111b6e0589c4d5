"""What the gateway tells a worker process to run: :class:`WorkerSpec`."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Config
    from ..manifest import Manifest

#: the spec's secrets and the environment variables that carry them to the worker (a
#: process's environment is private to it; its command line is public in ``ps``)
SECRET_ENV = {
    "django_database_url": "GATEWAY_DJANGO_DATABASE_URL",
    "django_secret_key": "GATEWAY_DJANGO_SECRET_KEY",
}


#: the gateway's own environment variables (its configuration, the admin token)
GATEWAY_ENV_PREFIX = "GATEWAY_"


def inherited_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """What a process the gateway starts for a plugin (its worker, the venv's installer)
    inherits of ``environ``: all but the gateway's own ``GATEWAY_*`` variables (with
    ``--workers`` the whole resolved configuration travels in one of them) and its Django
    settings module. Code a plugin brings has no business holding the admin token."""
    return {
        key: value
        for key, value in environ.items()
        if key != "DJANGO_SETTINGS_MODULE" and not key.startswith(GATEWAY_ENV_PREFIX)
    }


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
    #: the gateway's ``django.database_url`` and ``django.secret_key``: a Django app plugin
    #: uses the same database and key in its process as it would in the gateway's (replicas
    #: share them). Passed in the worker's environment, never on its command line.
    django_database_url: str | None = field(default=None, repr=False)
    django_secret_key: str | None = field(default=None, repr=False)
    wsgi_threads: int = 32
    #: the gateway's ``extensions:`` (entry-point extensions load in the worker by themselves)
    extensions: tuple[str, ...] = ()
    log_level: str = "info"
    #: the gateway's ``server.log_format``: the worker's lines are written the same way
    log_format: str = "text"
    #: the gateway's ``server.loop_stall_ms``: the worker reports its plugin blocking its loop
    loop_stall_ms: int = 500

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
            django_database_url=config.django.database_url,
            django_secret_key=config.django.secret_key,
            wsgi_threads=config.wsgi.threads,
            extensions=tuple(config.extensions),
            log_level=config.server.log_level,
            log_format=config.server.log_format,
            loop_stall_ms=config.server.loop_stall_ms,
        )

    @property
    def workdir(self) -> Path:
        return self.data_dir / "isolated" / self.name

    @property
    def venvs_dir(self) -> Path:
        return self.data_dir / "venvs"

    def to_json(self) -> str:
        """For the worker's command line; ``env`` and the secrets are left out (they go in
        the process's environment: see :meth:`secret_env`), as they have no place in ``ps``
        output."""
        data = asdict(self)
        data.update(folder=str(self.folder), data_dir=str(self.data_dir), env={})
        data["django_settings"] = dict(self.django_settings)
        data["extensions"] = list(self.extensions)
        for key in SECRET_ENV:
            del data[key]
        return json.dumps(data)

    def secret_env(self) -> dict[str, str]:
        """The environment variables that carry the spec's secrets to the worker."""
        return {var: value for key, var in SECRET_ENV.items() if (value := getattr(self, key))}

    @classmethod
    def from_json(cls, text: str, environ: Mapping[str, str] | None = None) -> WorkerSpec:
        """The spec of :meth:`to_json`, its secrets read from ``environ`` (``os.environ``)."""
        environ = os.environ if environ is None else environ
        data = json.loads(text)
        data.update(folder=Path(data["folder"]), data_dir=Path(data["data_dir"]))
        data["extensions"] = tuple(data.get("extensions", ()))
        data.update({key: environ.get(var) or None for key, var in SECRET_ENV.items()})
        return cls(**data)
