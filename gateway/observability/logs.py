"""How the gateway's process logs (CONTRACT section 15): one line per event on stderr, as text
or as one JSON object per line, for the gateway's loggers, uvicorn's, the plugins' and
Python's warnings alike.

Three things make the lines say which plugin and which request they are about:

- :data:`REQUEST` holds the plugin and request id of the request being served (a context
  variable: asyncio tasks and the WSGI threads, which run in a copy of the request's context,
  see it), so a line logged while serving carries them without the plugin doing anything;
- a log record factory renames the loggers of plugin modules, which live in a per-version
  package ``gateway_plugin_<name>_<n>`` (:mod:`gateway.namespace`), to ``plugin.<name>``: the
  name a user sees is stable across reloads;
- :class:`AlreadyLogged` drops uvicorn's anonymous "Exception in ASGI application" for an
  exception the gateway has already logged under the plugin's name.

The same :func:`logging_config` is given to uvicorn (its ``log_config``), so a ``--workers``
process is configured before it writes its first line.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import logging
import logging.config
import re
import sys
import threading
import time
import types
from datetime import UTC, datetime
from typing import Any, Literal

from ..namespace import PACKAGE_PREFIX, plugin_data_folder

__all__ = [
    "ACCESS_LOGGER",
    "FIELDS",
    "REQUEST",
    "AlreadyLogged",
    "JSONFormatter",
    "OfPlugin",
    "TextFormatter",
    "configure_logging",
    "logging_config",
    "mark_logged",
    "plugin_logger_name",
]

LogFormat = Literal["text", "json"]

#: the gateway's access log: one line per request served by a plugin (or by no plugin)
ACCESS_LOGGER = "gateway.access"
#: (plugin name, request id) of the request being served in this context
REQUEST: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "gateway_request", default=None
)
#: structured fields a record may carry (``extra=``), in the order JSON lines show them
FIELDS = ("plugin", "generation", "request_id", "method", "path", "status", "duration_ms")

_TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_PLUGIN_MODULE = re.compile(re.escape(PACKAGE_PREFIX) + r"(.+)_\d+")
_LOGGED = "__gateway_logged__"


@functools.lru_cache(maxsize=4096)
def plugin_logger_name(name: str) -> str:
    """``plugin.shop.views`` for ``gateway_plugin_shop_3.views``; other names unchanged.

    The plugin's name is read from its package (the data folder it was given is named after
    the plugin, hyphens included); a package already released falls back to the name in the
    package name, where hyphens have become underscores. Cached: a logger's records all get
    the first answer.
    """
    package, dot, rest = name.partition(".")
    folder = plugin_data_folder(package)
    if folder is not None:
        plugin = folder.name
    elif match := _PLUGIN_MODULE.fullmatch(package):
        plugin = match.group(1)
    else:
        return name
    return f"plugin.{plugin}{dot}{rest}"


def _install_record_factory() -> None:
    """Rename plugin modules' loggers on every record (a prefix test on other records)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_gateway", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.name.startswith(PACKAGE_PREFIX):
            record.name = plugin_logger_name(record.name)
        return record

    factory._gateway = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def mark_logged(exc: BaseException) -> None:
    """Note that ``exc`` has been logged, so uvicorn's own report of it is dropped."""
    with contextlib.suppress(AttributeError):  # an exception type with __slots__
        setattr(exc, _LOGGED, True)


class AlreadyLogged(logging.Filter):
    """Drops a record whose exception was already logged by the gateway (:func:`mark_logged`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not getattr(exc, _LOGGED, False)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields of ``record``: its own (``extra=``), else the request's."""
    values = {key: getattr(record, key) for key in FIELDS if hasattr(record, key)}
    current = REQUEST.get()
    if current is not None:
        values.setdefault("plugin", current[0])
        values.setdefault("request_id", current[1])
    elif "plugin" not in values and record.name.startswith("plugin."):
        values["plugin"] = record.name.split(".", 2)[1]
    return values


class JSONFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``message``, the fields of
    :data:`FIELDS` that apply, and ``exc_info`` (the formatted traceback) if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_fields(record))
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _utc(seconds: float | None) -> time.struct_time:
    return time.gmtime(seconds)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, plus the request id of a line logged while serving.

    The time is UTC, as in JSON lines: the process's local time zone is not the gateway's to
    keep (Django sets ``TZ`` from its ``TIME_ZONE`` setting when it starts, in the gateway and
    in an isolated Django project's process alike), and one log should not mix zones."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)
        self.converter = _utc

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        if record.name == ACCESS_LOGGER:
            return line  # the access line says it itself
        request_id = getattr(record, "request_id", None)
        if request_id is None and (current := REQUEST.get()) is not None:
            request_id = current[1]
        return f"{line} [request_id={request_id}]" if request_id else line


class OfPlugin(logging.Filter):
    """Gives every record the ``plugin`` field of a process that serves one plugin (an
    isolated plugin's worker process), unless the record names one itself."""

    def __init__(self, plugin: str) -> None:
        super().__init__()
        self.plugin = plugin

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "plugin"):
            record.plugin = self.plugin
        return True


def logging_config(
    level: str = "info", log_format: LogFormat = "text", plugin: str | None = None
) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of the process; also uvicorn's ``log_config``.

    Every logger propagates to one stderr handler; uvicorn's access log is off (the gateway
    writes its own, :data:`ACCESS_LOGGER`). ``plugin``: the process serves that plugin alone
    (:class:`OfPlugin`).
    """
    formatter = JSONFormatter if log_format == "json" else TextFormatter
    handler: dict[str, Any] = {
        "class": "logging.StreamHandler",
        "formatter": "gateway",
        "stream": "ext://sys.stderr",
    }
    filters: dict[str, Any] = {"already_logged": {"()": f"{__name__}.{AlreadyLogged.__name__}"}}
    if plugin is not None:
        filters["of_plugin"] = {"()": f"{__name__}.{OfPlugin.__name__}", "plugin": plugin}
        handler["filters"] = ["of_plugin"]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"gateway": {"()": f"{__name__}.{formatter.__name__}"}},
        "filters": filters,
        "handlers": {"stderr": handler},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"filters": ["already_logged"], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False},
            # watchfiles logs every batch of events at INFO; the gateway logs what it does.
            "watchfiles": {"level": "WARNING"},
        },
    }


def configure_logging(
    level: str = "info", log_format: LogFormat = "text", plugin: str | None = None
) -> None:
    """Configure the process's logging (see the module's docstring); may be called again."""
    logging.config.dictConfig(logging_config(level, log_format, plugin))
    _install_record_factory()
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_thread_exception


def _log_uncaught(
    exc_type: type[BaseException], exc: BaseException, tb: types.TracebackType | None
) -> None:
    logging.getLogger("gateway").critical("uncaught exception", exc_info=(exc_type, exc, tb))


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("gateway").error(
        "uncaught exception in thread %s",
        name,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
