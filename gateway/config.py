"""The gateway's configuration: models, and loading them from file, environment and flags.

Each key is resolved command-line flag > environment variable > ``config.yaml`` > built-in
default. The environment variable of ``<section>.<key>`` is ``GATEWAY_<SECTION>_<KEY>``;
``extensions`` is ``GATEWAY_EXTENSIONS`` (comma-separated) and ``django.settings`` is
``GATEWAY_DJANGO_SETTINGS`` (a JSON object). A bad value stops loading with a
:class:`~gateway.errors.ConfigError` naming where it came from, the key and what was expected.

``plugins.dir`` is kept as given: a relative path is resolved against the working directory by
the caller, so a configuration can be moved along with its plugins folder.
"""

from __future__ import annotations

import json
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from .errors import ConfigError

_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")

#: the gateway's data folder, under its working directory: Django's database and secret key,
#: the generated admin token, cached bytecode, plugins' own folders (``data/plugins/<name>``)
DATA_DIR_NAME = "data"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Model):
    """Where uvicorn listens, how many worker processes it runs, how it logs."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1)
    #: one log line per request, as uvicorn does by default (``--no-access-log`` turns it off)
    access_log: bool = True
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    #: whose ``X-Forwarded-*`` headers are trusted (uvicorn's ``--forwarded-allow-ips``)
    forwarded_allow_ips: str = "127.0.0.1"
    #: a plugin holding the event loop this long is reported (section 13)
    loop_stall_ms: int = Field(default=500, ge=1)
    #: a request's head must arrive within this (else 408), a new connection must send its
    #: first byte within it (else it is closed): slow clients cannot hold connections open
    header_timeout_s: float | None = Field(default=10.0, gt=0)


class LimitsConfig(_Model):
    """Per-request limits; the defaults of every plugin (a manifest's ``limits:`` overrides)."""

    #: one header line (name and value); longer -> 431
    max_header_bytes: int = Field(default=8190, ge=256)
    #: header fields in one request; more -> 431
    max_headers: int = Field(default=100, ge=1)
    #: request body; larger -> 413
    max_body_bytes: int = Field(default=100 * 1024 * 1024, ge=0)
    #: past it the client gets 504 (null: no timeout)
    request_timeout_s: float | None = Field(default=None, gt=0)
    #: requests of one plugin at once; past it they queue, and past 10x that, 503
    max_concurrency: int | None = Field(default=None, ge=1)


class PluginsConfig(_Model):
    """The plugins folder and how changes in it are picked up."""

    #: relative paths stay relative; the caller resolves them against its working directory
    dir: Path = Path("plugins")
    watch: bool = True
    poll: bool = False
    settle_ms: int = Field(default=150, ge=0)
    drain_timeout_s: float = Field(default=30.0, ge=0)
    #: one plugin's load (import and lifespan startup); past it, the load fails (LoadTimeout)
    load_timeout_s: float = Field(default=60.0, gt=0)
    #: where plugins run unless their manifest says: in the gateway's process, or their own
    isolation: Literal["none", "process"] = "none"


class WSGIConfig(_Model):
    """The one thread pool shared by every WSGI plugin."""

    threads: int = Field(default=32, ge=1)
    #: most pool threads one WSGI plugin may hold at once (null: half of ``threads``)
    per_plugin_threads: int | None = Field(default=None, ge=1)

    @property
    def plugin_share(self) -> int:
        """The threads one WSGI plugin may hold at once."""
        if self.per_plugin_threads is not None:
            return min(self.per_plugin_threads, self.threads)
        return max(1, self.threads // 2)


class MetricsConfig(_Model):
    """Prometheus metrics at ``<admin prefix>/metrics``."""

    enabled: bool = True


class AdminConfig(_Model):
    """The admin API: its URL prefix and bearer token (never shown in a repr)."""

    prefix: str = "/_gateway"
    token: str | None = Field(default=None, repr=False, min_length=1)

    @field_validator("prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        # The ValueError text completes "expected ...", see _expected().
        if not value.startswith("/"):
            raise ValueError("a path starting with '/'")
        if value == "/":
            raise ValueError("a path below '/', such as '/_gateway'")
        if value.endswith("/"):
            raise ValueError("a path without a trailing '/'")
        if not all(_SEGMENT.fullmatch(part) for part in value[1:].split("/")):
            raise ValueError("a path whose segments are letters, digits and '._~-'")
        return value


class DjangoConfig(_Model):
    """Django settings merged over the gateway's Django defaults, the database they use and
    the secret key (both shared by every replica; neither is ever shown in a repr)."""

    settings: dict[str, Any] = Field(default_factory=dict)
    #: ``postgres://user:password@host:5432/name``, ``sqlite:///path``; null = SQLite in the
    #: data folder. Holds a password, so it is hidden like the secret key.
    database_url: str | None = Field(default=None, repr=False, min_length=1)
    #: null = generated once and kept in the data folder (one replica only)
    secret_key: str | None = Field(default=None, repr=False, min_length=1)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        # The ValueError text completes "expected ...", see _expected(); it never repeats
        # the URL, which holds a password.
        if value is not None:
            import dj_database_url

            try:
                dj_database_url.parse(value)
            except ValueError:
                raise ValueError(
                    "a database URL such as postgres://user:password@host:5432/name or "
                    "sqlite:///path/to/db.sqlite3"
                ) from None
        return value


class Config(_Model):
    """The whole configuration; each section defaults to its built-in values."""

    server: ServerConfig = Field(default_factory=ServerConfig)
    plugins: PluginsConfig = Field(default_factory=PluginsConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    wsgi: WSGIConfig = Field(default_factory=WSGIConfig)
    admin: AdminConfig = Field(default_factory=AdminConfig)
    django: DjangoConfig = Field(default_factory=DjangoConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    #: module names of gateway extensions (pluggy plugins)
    extensions: list[str] = Field(default_factory=list)


@dataclass
class _Layer:
    """One source of values: nested data, and which source supplied each dotted key."""

    label: str
    data: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def source_of(self, loc: tuple[str, ...]) -> str:
        for n in range(len(loc), 0, -1):
            if (source := self.sources.get(".".join(loc[:n]))) is not None:
                return source
        prefix = ".".join(loc) + "."
        return next((s for k, s in self.sources.items() if k.startswith(prefix)), self.label)

    def set(self, dotted: str, value: object, source: str) -> None:
        *parents, last = dotted.split(".")
        target = self.data
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
        self.sources[dotted] = source


def load_config(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
    flag_names: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Resolve the configuration from ``overrides`` > ``env`` > the YAML file > defaults.

    ``path=None`` reads ``<cwd>/config.yaml`` when it exists; an explicit ``path`` must exist.
    ``env=None`` means ``os.environ``. ``overrides`` maps dotted keys (``"server.port"``) to
    command-line values, ``None`` meaning "flag not given"; ``flag_names`` maps the same keys
    to the flag shown in errors (default: the dotted key). Raises :class:`ConfigError`.
    """
    env = os.environ if env is None else env
    layers = [_file_layer(path, cwd), _env_layer(env), _Layer("command line")]
    for key, value in (overrides or {}).items():
        if value is not None:
            layers[2].set(key, value, (flag_names or {}).get(key, key))
    # Validate layer by layer so an error is blamed on the layer that brought the bad value:
    # the layers below it have already passed, and no check spans two keys.
    merged: dict[str, Any] = {}
    config = Config()
    for layer in layers:
        for name, value in layer.data.items():
            below = merged.get(name)
            merged[name] = (
                {**below, **value} if isinstance(below, dict) and isinstance(value, dict) else value
            )
        config = _validate(lambda: Config.model_validate(merged), layer)
    return config


def config_to_json(cfg: Config) -> str:
    """Serialise ``cfg``, admin token included, e.g. for worker processes."""
    return cfg.model_dump_json()


def config_from_json(text: str) -> Config:
    """The inverse of :func:`config_to_json`."""
    return _validate(lambda: Config.model_validate_json(text), _Layer("config JSON"))


def _file_layer(path: Path | None, cwd: Path | None) -> _Layer:
    if path is None:
        path = Path("config.yaml")
        if not (cwd or Path()).joinpath(path).is_file():
            return _Layer(str(path))
    label = str(path)  # as the user spelled it; a relative path is read from cwd
    try:
        text = (cwd or Path()).joinpath(path).read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        reason = "not found" if isinstance(exc, FileNotFoundError) else f"unreadable: {exc}"
        raise ConfigError(f"{label}: configuration file {reason}", source=label) from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{label}:{mark.line + 1}" if mark is not None else label
        raise ConfigError(f"{where}: invalid YAML: {exc.problem}", source=label) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{label}: expected a mapping of sections at the top level, "
            f"got {type(data).__name__} {data!r}",
            source=label,
        )
    # An empty section ("server:" with every key commented out) means its defaults.
    return _Layer(label, {k: v for k, v in data.items() if v is not None})


def _env_layer(env: Mapping[str, str]) -> _Layer:
    layer = _Layer("environment")
    for dotted, info in _leaf_fields().items():
        var = "GATEWAY_" + dotted.replace(".", "_").upper()
        if (raw := env.get(var)) is None:
            continue
        value: object = raw
        container = typing.get_origin(info.annotation) or info.annotation
        if container is list:
            value = [item.strip() for item in raw.split(",") if item.strip()]
        elif container is dict:
            try:
                value = json.loads(raw)
            except ValueError:
                msg = f"{var}: {dotted}: expected a JSON object, got {raw!r}"
                raise ConfigError(msg, key=dotted, source=var) from None
        layer.set(dotted, value, var)
    return layer


def _leaf_fields() -> dict[str, FieldInfo]:
    """Every settable key, dotted, derived from the models (sections flattened)."""
    leaves: dict[str, FieldInfo] = {}
    for name, info in Config.model_fields.items():
        model = _section_model(info)
        if model is None:
            leaves[name] = info
        else:
            leaves.update({f"{name}.{k}": v for k, v in model.model_fields.items()})
    return leaves


def _section_model(info: FieldInfo) -> type[BaseModel] | None:
    ann = info.annotation
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _validate(build: typing.Callable[[], Config], layer: _Layer) -> Config:
    try:
        return build()
    except ValidationError as exc:
        _raise(exc.errors(), layer)


def _raise(errors: list[ErrorDetails], layer: _Layer) -> NoReturn:
    error = errors[0]
    loc = tuple(str(part) for part in error["loc"])
    key = ".".join(loc)
    source = layer.source_of(loc)
    info = Config.model_fields.get(loc[0]) if len(loc) == 1 else _leaf_fields().get(key)
    if error["type"] == "extra_forbidden":
        detail = f"unknown key {key!r} ({_known(loc[:-1])})"
    else:
        # A secret stays out of the message even when it is the bad value.
        hidden = info is not None and not info.repr and error["input"] not in ("", None)
        got = "a hidden value" if hidden else repr(error["input"])
        detail = f"{key}: expected {_expected(error, info)}, got {got}"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    raise ConfigError(f"{source}: {detail}{more}", key=key, source=source)


def _known(parent: tuple[str, ...]) -> str:
    if not parent:
        return "known sections: " + ", ".join(Config.model_fields)
    model = _section_model(Config.model_fields[parent[0]])
    names = model.model_fields if model is not None and len(parent) == 1 else {}
    return f"known keys in {'.'.join(parent)!r}: " + (", ".join(names) or "none")


def _expected(error: ErrorDetails, info: FieldInfo | None) -> str:
    """What the key wants, from the field's type and bounds rather than pydantic's wording."""
    if error["type"] == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    if info is None:
        return error["msg"].removeprefix("Input should be ")
    if model := _section_model(info):
        return "a mapping with keys " + ", ".join(model.model_fields)
    ann: Any = info.annotation
    nullable = ""
    if isinstance(ann, types.UnionType):  # the models only use `X | None`
        ann, nullable = typing.get_args(ann)[0], " or null"
    base = typing.get_origin(ann) or ann
    if base is Literal:
        return " or ".join(repr(choice) for choice in typing.get_args(ann)) + nullable
    kinds = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    kinds |= {Path: "a path", list: "a list of strings", dict: "a mapping"}
    what = kinds.get(base, str(base))
    names = ("ge", "gt", "le", "min_length")
    bounds = {n: getattr(c, n) for c in info.metadata for n in names if hasattr(c, n)}
    if "min_length" in bounds:
        what = "a non-empty " + what.removeprefix("a ")
    if "ge" in bounds and "le" in bounds:
        what += f" between {bounds['ge']} and {bounds['le']}"
    elif "ge" in bounds:
        what += f" >= {bounds['ge']}"
    elif "gt" in bounds:
        what += f" > {bounds['gt']}"
    return what + nullable
