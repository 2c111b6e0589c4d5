"""gateway.observability.logs: the names users see for plugin loggers, and the JSON lines."""

from __future__ import annotations

import json
import logging
import sys
import time
import types
from pathlib import Path

import pytest

from gateway.observability.logs import (
    REQUEST,
    JSONFormatter,
    TextFormatter,
    _install_record_factory,
    plugin_logger_name,
)


def test_plugin_module_loggers_get_the_plugin_name(tmp_path: Path) -> None:
    package = types.ModuleType("gateway_plugin_my_shop_7")
    package.__gateway_data__ = str(tmp_path / "plugins" / "my-shop")  # type: ignore[attr-defined]
    sys.modules[package.__name__] = package
    try:
        assert plugin_logger_name("gateway_plugin_my_shop_7.views") == "plugin.my-shop.views"
        assert plugin_logger_name("gateway_plugin_my_shop_7") == "plugin.my-shop"
    finally:
        del sys.modules[package.__name__]
    # the answer is kept for the logger's later records, after the release too
    assert plugin_logger_name("gateway_plugin_my_shop_7.views") == "plugin.my-shop.views"
    # a package never seen while registered: the name from the package name
    assert plugin_logger_name("gateway_plugin_my_shop_8.views") == "plugin.my_shop.views"
    assert plugin_logger_name("uvicorn.error") == "uvicorn.error"
    assert plugin_logger_name("gateway.registry") == "gateway.registry"


def test_records_of_plugin_loggers_are_renamed() -> None:
    _install_record_factory()
    _install_record_factory()  # once is enough; twice does not stack
    record = logging.getLogger("gateway_plugin_blog_3.models").makeRecord(
        "gateway_plugin_blog_3.models", logging.INFO, __file__, 1, "hi", (), None
    )
    assert record.name == "plugin.blog.models"


def test_json_lines_carry_the_request_and_the_traceback() -> None:
    token = REQUEST.set(("shop", "rid-1"))
    try:
        try:
            raise ValueError("bad")
        except ValueError:
            record = logging.getLogger("plugin.shop").makeRecord(
                "plugin.shop", logging.ERROR, __file__, 1, "failed %s", ("x",), sys.exc_info()
            )
        line = JSONFormatter().format(record)
        text = TextFormatter().format(record)
    finally:
        REQUEST.reset(token)
    entry = json.loads(line)
    assert entry["logger"] == "plugin.shop" and entry["message"] == "failed x"
    assert entry["level"] == "ERROR" and entry["ts"].endswith("+00:00")
    assert (entry["plugin"], entry["request_id"]) == ("shop", "rid-1")
    assert "ValueError: bad" in entry["exc_info"]
    assert "\n" not in line
    assert "[request_id=rid-1]" in text.splitlines()[0]


def test_extra_fields_win_over_the_context() -> None:
    record = logging.getLogger("gateway.registry").makeRecord(
        "gateway.registry",
        logging.INFO,
        __file__,
        1,
        "loaded",
        (),
        None,
        extra={"plugin": "blog", "generation": 2},
    )
    entry = json.loads(JSONFormatter().format(record))
    assert (entry["plugin"], entry["generation"]) == ("blog", 2)
    assert "request_id" not in entry


def test_text_lines_are_in_utc_whatever_the_processes_time_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Django sets TZ from TIME_ZONE when it starts (America/Chicago by default, in an
    isolated Django project's process): the lines keep the gateway's clock."""
    monkeypatch.setenv("TZ", "America/Chicago")
    time.tzset()
    try:
        record = logging.LogRecord("gateway", logging.INFO, __file__, 1, "hello", None, None)
        record.created = 1_795_000_000.0  # 2026-11-18 11:06:40 UTC
        record.msecs = 0.0
        line = TextFormatter().format(record)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert line.startswith("2026-11-18 11:06:40,000 INFO    gateway: hello"), line
