"""A plugin's name and its optional manifest, ``plugin.yaml``, validated."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .config import LimitsConfig
from .errors import ManifestError

MANIFEST_FILE = "plugin.yaml"
#: a manifest is a few lines; a larger one is refused unread (section 13)
MAX_MANIFEST_BYTES = 64 * 1024
#: what an error message quotes of a bad value at most
_QUOTE = 80
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
#: longer folder names are refused (file systems stop at 255 bytes; URLs should stop sooner)
MAX_NAME_LENGTH = 128
_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+\Z")


def is_candidate(name: str) -> bool:
    """Whether a folder name is looked at at all: ``.name`` and ``_name`` are staging/hidden."""
    return not name.startswith((".", "_"))


def is_valid_name(name: str) -> bool:
    """Whether ``name`` can be a plugin's: ``[a-z0-9][a-z0-9_-]*``, at most 128 characters."""
    return len(name) <= MAX_NAME_LENGTH and NAME_PATTERN.match(name) is not None


def validate_name(name: str) -> None:
    """Refuse a plugin folder name that :func:`is_valid_name` refuses."""
    if not is_valid_name(name):
        raise ManifestError(
            f"invalid plugin name {name[:MAX_NAME_LENGTH]!r}: expected at most "
            f"{MAX_NAME_LENGTH} lower-case letters, digits, '_' and '-', starting with a "
            "letter or digit",
            plugin=name[:MAX_NAME_LENGTH],
        )


def normalise_prefix(prefix: str) -> str:
    """Return ``prefix`` without its trailing slash; raise ``ValueError`` if it is not a path.

    ``"/"`` is the root prefix: it takes every path no longer prefix matches.
    """
    if not prefix.startswith("/"):
        raise ValueError(f"prefix {prefix!r} must start with '/'")
    stripped = prefix.rstrip("/")
    if not stripped:
        return "/"
    for segment in stripped[1:].split("/"):
        if not _SEGMENT.match(segment) or segment in (".", ".."):
            raise ValueError(
                f"prefix {prefix!r} has an invalid segment {segment!r}: expected letters, "
                "digits and . _ ~ - (no empty, '.' or '..' segments)"
            )
    return stripped


class _ManifestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    framework: str | None = None
    app: str | None = None
    prefix: str | None = None
    enabled: bool = True
    #: overrides of config ``limits:`` for this plugin (only the keys given)
    limits: dict[str, Any] = Field(default_factory=dict)
    #: none: in the gateway's process; process: worker processes of its own (section 14)
    isolation: Literal["none", "process"] | None = None
    processes: int | None = Field(default=None, ge=1, le=64)
    venv: bool | None = None
    env: dict[str, str] | None = None
    memory_mb: int | None = Field(default=None, ge=16)
    max_requests: int | None = Field(default=None, ge=1)

    @field_validator("limits")
    @classmethod
    def _check_limits(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(LimitsConfig.model_fields))
        if unknown:
            known = ", ".join(LimitsConfig.model_fields)
            raise ValueError(f"unknown key(s) {', '.join(map(repr, unknown))} (known: {known})")
        checked = LimitsConfig.model_validate(value)
        return {key: getattr(checked, key) for key in value}

    @model_validator(mode="after")
    def _process_only(self) -> _ManifestModel:
        given = [key for key in PROCESS_ONLY_KEYS if getattr(self, key) is not None]
        if given and self.isolation == "none":
            raise ValueError(
                f"{', '.join(given)}: only with 'isolation: process' (this plugin says 'none')"
            )
        return self

    @field_validator("prefix")
    @classmethod
    def _check_prefix(cls, value: str | None) -> str | None:
        return None if value is None else normalise_prefix(value)

    @field_validator("app")
    @classmethod
    def _check_app(cls, value: str | None) -> str | None:
        if value is not None:
            module, _, attr = value.partition(":")
            if (
                not module
                or not all(p.isidentifier() for p in module.split("."))
                or (attr and not all(p.isidentifier() for p in attr.split(".")))
            ):
                raise ValueError(f"expected 'module:attribute' (e.g. 'app:app'), got {value!r}")
        return value


#: the keys that only mean something for a plugin in a process of its own
PROCESS_ONLY_KEYS = ("processes", "venv", "env", "memory_mb", "max_requests")


@dataclass(frozen=True)
class Manifest:
    """What ``plugin.yaml`` says, with defaults filled in (``None``: the configuration's)."""

    framework: str | None
    app: str | None
    prefix: str
    enabled: bool
    file: Path | None
    limits: dict[str, Any] = field(default_factory=dict)
    isolation: str | None = None
    processes: int = 1
    venv: bool = False
    env: dict[str, str] = field(default_factory=dict)
    memory_mb: int | None = None
    max_requests: int | None = None


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: a manifest needs none, and nested aliases ("billion
    laughs") expand a few hundred bytes into gigabytes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.MarkedYAMLError(
                problem="aliases (*name) are not allowed in plugin.yaml",
                problem_mark=event.start_mark,
            )
        return super().compose_node(parent, index)


def _quote(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _QUOTE else text[: _QUOTE - 3] + "..."


def read_manifest(folder: Path, name: str) -> Manifest:
    """Read and validate ``folder/plugin.yaml``; a missing file means all defaults.

    Blocking and CPU-bound: the registry calls it off the event loop. A manifest over 64 KiB
    is refused unread and aliases are refused while parsing, so a hostile one costs little;
    error messages quote bad values shortened.
    """
    file = folder / MANIFEST_FILE
    data: Any = {}
    if file.is_file():
        try:
            size = file.stat().st_size
            if size > MAX_MANIFEST_BYTES:
                raise ManifestError(
                    f"plugin.yaml is {size:,} bytes; at most {MAX_MANIFEST_BYTES:,} are read",
                    plugin=name,
                    file=file,
                )
            with file.open(encoding="utf-8") as f:
                text = f.read(MAX_MANIFEST_BYTES + 1)  # it may have grown since stat()
            if len(text) > MAX_MANIFEST_BYTES:
                raise ManifestError(
                    f"plugin.yaml is over {MAX_MANIFEST_BYTES:,} bytes", plugin=name, file=file
                )
            data = yaml.load(text, Loader=_NoAliasLoader) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise ManifestError(
                f"invalid YAML{line}: {problem[:200]}", plugin=name, file=file
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestError(f"cannot read manifest: {exc}", plugin=name, file=file) from None
        if not isinstance(data, dict):
            raise ManifestError(
                f"expected a mapping of keys ({', '.join(_ManifestModel.model_fields)}), "
                f"got {type(data).__name__}",
                plugin=name,
                file=file,
            )
    try:
        model = _ManifestModel.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            if err["type"] == "extra_forbidden":
                problems.append(
                    f"unknown key {_quote(key)} (known: {', '.join(_ManifestModel.model_fields)})"
                )
            elif not key:  # a rule spanning several keys: its message names them
                problems.append(err["msg"].removeprefix("Value error, "))
            else:
                msg = err["msg"].removeprefix("Value error, ")
                problems.append(f"{_quote(key)}: {msg[:200]} (got {_quote(err['input'])})")
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ManifestError("; ".join(problems[:5]) + more, plugin=name, file=file) from None
    return Manifest(
        framework=model.framework,
        app=model.app,
        prefix=model.prefix or f"/{name}",
        enabled=model.enabled,
        file=file if file.is_file() else None,
        limits=model.limits,
        isolation=model.isolation,
        processes=model.processes or 1,
        venv=bool(model.venv),
        env=dict(model.env or {}),
        memory_mb=model.memory_mb,
        max_requests=model.max_requests,
    )
