"""The gateway's exceptions: one base class, a few subclasses that carry context.

A :class:`GatewayError` is a *user* error (bad configuration, broken plugin): it is reported
as one clear line, never with a traceback. Anything else that escapes is a bug and is logged
with its traceback.

Which step of a plugin's load failed is told by the :class:`PluginError` subclass; its
``kind`` is the word the admin API shows as ``error.type``. Code decides by class
(``isinstance(exc, PrefixConflict)``), never by comparing those words.
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


class ExtensionError(GatewayError):
    """An extension (a pluggy plugin adding to the gateway) is broken."""

    kind = "ExtensionError"

    def __init__(self, message: str, *, extension: str) -> None:
        super().__init__(f"extension {extension!r}: {message}")
        self.extension = extension


class PluginError(GatewayError):
    """A plugin could not be loaded, started or mounted.

    ``plugin`` is the plugin's name, ``file`` the file at fault when one is known (a path,
    or ``path:line``). Raise a subclass to say which step failed; an extension may raise this
    class itself (``error.type`` is then ``PluginError``).
    """

    kind = "PluginError"

    def __init__(
        self,
        message: str,
        *,
        plugin: str,
        file: Path | str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.plugin = plugin
        self.file = str(file) if file is not None else None

    def __str__(self) -> str:
        where = f"plugin {self.plugin!r}"
        if self.file:
            where += f" ({self.file})"
        return f"{where}: {super().__str__()}"


class ManifestError(PluginError):
    """``plugin.yaml`` or the folder's name is invalid, or names an unknown framework."""

    kind = "ManifestError"


class RequirementError(PluginError):
    """``requirements.txt`` is unreadable or not met by the installed packages."""

    kind = "RequirementError"


class PluginSyntaxError(PluginError):
    """A module of the plugin does not compile."""

    kind = "SyntaxError"


class PluginImportError(PluginError):
    """A module the plugin imports cannot be found (or is imported the wrong way)."""

    kind = "ImportError"


class PluginExit(PluginError):
    """The plugin called ``sys.exit()`` while being imported."""

    kind = "SystemExit"


class AppNotFound(PluginError):
    """The module has no attribute named by the manifest's ``app`` (or ``app:app``)."""

    kind = "AttributeError"


class NotAnApp(PluginError):
    """The object found is not an application of the framework it should be."""

    kind = "NotAnApp"


class PluginCodeError(PluginError):
    """The plugin's own code raised while being imported or built.

    ``kind`` is the name of the exception's type (``RuntimeError``, ``KeyError``...), so the
    admin API shows what the plugin raised.
    """

    def __init__(
        self,
        error_type: str,
        message: str,
        *,
        plugin: str,
        file: Path | str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, plugin=plugin, file=file, hint=hint)
        self.kind = error_type


class LifespanError(PluginError):
    """The app's ASGI lifespan startup failed or did not finish in time."""

    kind = "LifespanError"


class LoadTimeout(PluginError):
    """Loading (import and lifespan startup) took longer than ``plugins.load_timeout_s``."""

    kind = "LoadTimeout"


class WorkerExited(PluginError):
    """An isolated plugin's worker process ended, or could not start, before it was ready."""

    kind = "WorkerExited"


class VenvError(PluginError):
    """An isolated plugin's virtualenv could not be built from its ``requirements.txt``."""

    kind = "VenvError"


class PrefixReserved(PluginError):
    """The plugin's prefix is, or is under, the admin API's prefix."""

    kind = "PrefixReserved"


class PrefixConflict(PluginError):
    """Another plugin already serves the prefix; the load is retried once it is free."""

    kind = "PrefixConflict"

    def __init__(
        self, message: str, *, plugin: str, prefix: str, holder: str, file: Path | str | None
    ) -> None:
        super().__init__(message, plugin=plugin, file=file)
        self.prefix = prefix
        self.holder = holder


class DjangoError(PluginError):
    """A Django plugin is not a usable Django app (no ``urlpatterns``, a reserved label...)."""

    kind = "DjangoError"


class DjangoSettingsError(PluginError):
    """A Django plugin brings or configures its own settings (one settings module per process)."""

    kind = "DjangoSettingsError"


class RestartRequired(PluginError):
    """A change the running process cannot take in place (e.g. changed Django models)."""

    kind = "RestartRequired"


class MigrationsMissing(DjangoError):
    """A Django plugin's models differ from what its migrations make (``gateway manage
    <plugin> makemigrations`` makes the missing one)."""

    kind = "MigrationsMissing"


def plugin_error(
    kind: str,
    message: str,
    *,
    plugin: str,
    file: str | None = None,
    hint: str | None = None,
) -> PluginError:
    """The :class:`PluginError` subclass whose ``kind`` is ``kind`` (an error reported by a
    worker process, by its kind), else a :class:`PluginCodeError` of that kind."""
    pending: list[type[PluginError]] = [PluginError]
    while pending:
        cls = pending.pop()
        if cls.kind == kind and cls not in (PluginCodeError, PrefixConflict):
            return cls(message, plugin=plugin, file=file, hint=hint)
        pending += cls.__subclasses__()
    return PluginCodeError(kind, message, plugin=plugin, file=file, hint=hint)
