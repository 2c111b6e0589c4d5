"""A plugin's name and its optional manifest, ``plugin.yaml``, validated."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .errors import PluginError

MANIFEST_FILE = "plugin.yaml"
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+\Z")


def is_candidate(name: str) -> bool:
    """Whether a folder name is looked at at all: ``.name`` and ``_name`` are staging/hidden."""
    return not name.startswith((".", "_"))


def validate_name(name: str) -> None:
    """Refuse a plugin folder name that does not match ``[a-z0-9][a-z0-9_-]*``."""
    if not NAME_PATTERN.match(name):
        raise PluginError(
            f"invalid plugin name {name!r}: expected lower-case letters, digits, '_' and '-', "
            "starting with a letter or digit",
            plugin=name,
            kind="ManifestError",
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


@dataclass(frozen=True)
class Manifest:
    """What ``plugin.yaml`` says, with defaults filled in."""

    framework: str | None
    app: str | None
    prefix: str
    enabled: bool
    file: Path | None


def read_manifest(folder: Path, name: str) -> Manifest:
    """Read and validate ``folder/plugin.yaml``; a missing file means all defaults."""
    file = folder / MANIFEST_FILE
    data: Any = {}
    if file.is_file():
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" at line {mark.line + 1}" if mark is not None else ""
            raise PluginError(
                f"invalid YAML{line}: {getattr(exc, 'problem', exc)}",
                plugin=name,
                file=file,
                kind="ManifestError",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PluginError(
                f"cannot read manifest: {exc}", plugin=name, file=file, kind="ManifestError"
            ) from None
        if not isinstance(data, dict):
            raise PluginError(
                f"expected a mapping of keys (framework, app, prefix, enabled), "
                f"got {type(data).__name__}",
                plugin=name,
                file=file,
                kind="ManifestError",
            )
    try:
        model = _ManifestModel.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            if err["type"] == "extra_forbidden":
                problems.append(
                    f"unknown key {key!r} (known: {', '.join(_ManifestModel.model_fields)})"
                )
            else:
                msg = err["msg"].removeprefix("Value error, ")
                problems.append(f"{key}: {msg} (got {err['input']!r})")
        raise PluginError(
            "; ".join(problems), plugin=name, file=file, kind="ManifestError"
        ) from None
    return Manifest(
        framework=model.framework,
        app=model.app,
        prefix=model.prefix or f"/{name}",
        enabled=model.enabled,
        file=file if file.is_file() else None,
    )
