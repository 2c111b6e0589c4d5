"""The gateway's exceptions: one base class, a few subclasses that carry context.

A :class:`GatewayError` is a *user* error (bad configuration, broken plugin): it is reported
as one clear line, never with a traceback. Anything else that escapes is a bug and is logged
with its traceback.
"""

from __future__ import annotations

from pathlib import Path


class GatewayError(Exception):
    """Base class of every error the gateway reports to a user."""

    #: short machine-readable kind, shown as ``error.type`` in the admin API
    kind: str = "GatewayError"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} (hint: {self.hint})"
        return self.message


class ConfigError(GatewayError):
    """A configuration key has a bad value, or is unknown."""

    kind = "ConfigError"

    def __init__(self, message: str, *, key: str | None = None, source: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.source = source


class UsageError(GatewayError):
    """The command line was used wrongly (exit code 2)."""

    kind = "UsageError"


class PluginError(GatewayError):
    """A plugin could not be loaded, started or mounted.

    ``plugin`` is the plugin's name, ``file`` the file at fault when one is known. ``kind``
    (shown as ``error.type``) says which step failed, e.g. ``ManifestError``, ``ImportError``.
    """

    def __init__(
        self,
        message: str,
        *,
        plugin: str,
        file: Path | str | None = None,
        kind: str = "PluginError",
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.plugin = plugin
        self.file = str(file) if file is not None else None
        self.kind = kind

    def __str__(self) -> str:
        where = f"plugin {self.plugin!r}"
        if self.file:
            where += f" ({self.file})"
        return f"{where}: {super().__str__()}"


class RestartRequired(PluginError):
    """A change the running process cannot take in place (e.g. changed Django models)."""

    def __init__(self, message: str, *, plugin: str, file: Path | str | None = None) -> None:
        super().__init__(message, plugin=plugin, file=file, kind="RestartRequired")


class ExtensionError(GatewayError):
    """An extension (a pluggy plugin adding to the gateway) is broken."""

    kind = "ExtensionError"

    def __init__(self, message: str, *, extension: str) -> None:
        super().__init__(f"extension {extension!r}: {message}")
        self.extension = extension
