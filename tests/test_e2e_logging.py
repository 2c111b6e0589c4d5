"""The gateway's logs end to end: with ``--log-format json`` every line the process writes is
one JSON object (uvicorn's lines, warnings, tracebacks as a field, access lines with plugin,
status, duration and request id); a plugin's errors and its own loggers appear under the
plugin's name, never its per-version module; loads carry ``plugin`` and ``generation``; the
text format's access lines carry plugin, duration and request id too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, GatewayProcess, copy_plugin, launch_gateway, wait_for

REQUEST_ID = "trace-42.a_b-c"
ISOLATED_REQUEST_ID = "iso-7"


def entries(gw: GatewayProcess) -> list[dict[str, Any]]:
    """Every line of the gateway's output, each parsed as a JSON object (asserted)."""
    parsed = []
    for line in gw.log().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            pytest.fail(f"a line that is not JSON: {line!r}\n--- whole log:\n{gw.log()}")
        assert isinstance(entry, dict), line
        for key in ("ts", "level", "logger", "message"):
            assert key in entry, line
        parsed.append(entry)
    return parsed


@pytest.fixture(scope="module")
def json_log(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """A gateway run with --log-format json through a plugin's errors, logs and warnings."""
    workdir = tmp_path_factory.mktemp("json-log")
    isolated = copy_plugin(FIXTURES / "obs-asgi", workdir / "plugins", "obs-iso")
    (isolated / "plugin.yaml").write_text("isolation: process\n")
    gw = launch_gateway(
        workdir,
        "obs-asgi",
        "obs-wsgi",
        "broken-raises",
        args=["--log-format", "json"],
    )
    try:
        headers = {"X-Request-ID": REQUEST_ID}
        assert gw.client.get("/obs-asgi/echo", headers=headers).status_code == 200
        assert gw.client.get("/obs-asgi/boom", headers=headers).status_code == 500
        assert gw.client.get("/obs-asgi/raw-boom", headers=headers).status_code == 500
        assert gw.client.get("/obs-wsgi/boom", headers=headers).status_code == 500
        assert gw.client.get("/obs-asgi/talk", headers=headers).text == "talked"
        iso_headers = {"X-Request-ID": ISOLATED_REQUEST_ID}
        assert gw.client.get("/obs-iso/boom", headers=iso_headers).status_code == 500
        assert gw.client.get("/obs-iso/talk", headers=iso_headers).text == "talked"
        assert gw.client.get("/nothing-here").status_code == 404
        wait_for(lambda: "/nothing-here" in gw.log(), timeout=10, what="the last access line")
    finally:
        assert gw.stop() == 0, gw.log()
    return entries(gw)


def test_every_line_is_json_including_uvicorns(json_log: list[dict[str, Any]]) -> None:
    messages = [e["message"] for e in json_log if e["logger"].startswith("uvicorn")]
    assert any(m.startswith("Started server process") for m in messages), messages
    assert any("Application startup complete" in m for m in messages), messages
    assert not any(e["logger"] == "uvicorn.access" for e in json_log)


def test_access_lines_carry_plugin_status_duration_and_request_id(
    json_log: list[dict[str, Any]],
) -> None:
    access = [e for e in json_log if e["logger"] == "gateway.access"]
    echo = next(e for e in access if e["path"] == "/obs-asgi/echo")
    assert echo["plugin"] == "obs-asgi"
    assert echo["generation"] == 1
    assert echo["request_id"] == REQUEST_ID
    assert echo["method"] == "GET"
    assert echo["status"] == 200
    assert isinstance(echo["duration_ms"], float) and echo["duration_ms"] >= 0
    miss = next(e for e in access if e["path"] == "/nothing-here")
    assert miss["plugin"] == "" and miss["status"] == 404
    assert len(miss["request_id"]) >= 8  # generated
    boom = next(e for e in access if e["path"] == "/obs-asgi/raw-boom")
    assert boom["status"] == 500


def test_plugin_errors_are_logged_once_under_the_plugin_name_with_a_traceback(
    json_log: list[dict[str, Any]],
) -> None:
    errors = [e for e in json_log if e["level"] == "ERROR"]
    for path, text in [
        ("/obs-asgi/boom", "RuntimeError: boom from the plugin"),
        ("/obs-asgi/raw-boom", "ValueError: raw failure before the response"),
    ]:
        found = [
            e for e in errors if text in e.get("exc_info", "") and e.get("plugin") == "obs-asgi"
        ]
        assert len(found) == 1, (path, errors)
        (entry,) = found
        assert entry["logger"] == "plugin.obs-asgi"
        assert entry["plugin"] == "obs-asgi"
        assert entry["request_id"] == REQUEST_ID
        assert path in entry["message"]
        assert "Traceback (most recent call last)" in entry["exc_info"]
    # the WSGI plugin's error is logged by the adapter, under the plugin's name too
    wsgi = [e for e in errors if "boom from the WSGI plugin" in e.get("exc_info", "")]
    assert len(wsgi) == 1, errors
    assert wsgi[0]["logger"] == "plugin.obs-wsgi"
    assert wsgi[0]["plugin"] == "obs-wsgi" and wsgi[0]["request_id"] == REQUEST_ID
    assert not any("Exception in ASGI application" in e["message"] for e in json_log)
    assert not any("gateway_plugin_" in json.dumps(e) for e in errors)


def test_a_plugins_own_logger_and_warnings(json_log: list[dict[str, Any]]) -> None:
    own = next(
        e
        for e in json_log
        if e["message"] == "hello from the plugin's own logger"
        and e["logger"] != "plugin.obs-iso.app"
    )
    assert own["logger"] == "plugin.obs-asgi.app"
    assert own["plugin"] == "obs-asgi"
    assert own["request_id"] == REQUEST_ID
    warning = next(
        e for e in json_log if e["logger"] == "py.warnings" and e["plugin"] == "obs-asgi"
    )
    assert "a warning from the plugin" in warning["message"]
    assert warning["request_id"] == REQUEST_ID
    assert not any("gateway_plugin_" in e["logger"] for e in json_log)


def test_an_isolated_plugins_process_logs_the_same_way(json_log: list[dict[str, Any]]) -> None:
    """Its lines are JSON objects too (the fixture parsed every line), with its name and the
    request's id; its error once, under its name, with the traceback."""
    errors = [e for e in json_log if "boom from the plugin" in e.get("exc_info", "")]
    isolated = [e for e in errors if e.get("plugin") == "obs-iso"]
    assert len(isolated) == 1, errors
    (error,) = isolated
    assert error["logger"] == "plugin.obs-iso" and error["level"] == "ERROR"
    assert error["request_id"] == ISOLATED_REQUEST_ID
    assert "/obs-iso/boom" in error["message"]
    assert "Traceback (most recent call last)" in error["exc_info"]
    own = next(e for e in json_log if e["logger"] == "plugin.obs-iso.app")
    assert own["message"] == "hello from the plugin's own logger"
    assert (own["plugin"], own["request_id"]) == ("obs-iso", ISOLATED_REQUEST_ID)
    warning = next(e for e in json_log if e["logger"] == "py.warnings" and e["plugin"] == "obs-iso")
    assert warning["request_id"] == ISOLATED_REQUEST_ID
    ready = next(e for e in json_log if "obs-iso (asgi) ready in process" in e["message"])
    assert ready["plugin"] == "obs-iso"


def test_loads_and_failures_carry_plugin_and_generation(json_log: list[dict[str, Any]]) -> None:
    loaded = next(e for e in json_log if "obs-asgi: loaded generation 1" in e["message"])
    assert (loaded["plugin"], loaded["generation"]) == ("obs-asgi", 1)
    failed = next(e for e in json_log if "broken-raises: load failed" in e["message"])
    assert (failed["plugin"], failed["generation"]) == ("broken-raises", 0)
    released = [e for e in json_log if "shut down and released" in e["message"]]
    assert {(e["plugin"], e["generation"]) for e in released} >= {("obs-asgi", 1)}


def test_text_access_lines_and_log_level(tmp_path: Path) -> None:
    gw = launch_gateway(tmp_path, "obs-asgi", args=["--log-level", "WARNING"])
    try:
        assert gw.client.get("/obs-asgi/echo", headers={"X-Request-ID": "abc"}).status_code == 200
        assert gw.client.get("/obs-asgi/boom", headers={"X-Request-ID": "xyz"}).status_code == 500
        wait_for(lambda: "boom from the plugin" in gw.log(), timeout=10, what="the error")
    finally:
        assert gw.stop() == 0, gw.log()
    log = gw.log()
    assert "loaded generation" not in log  # INFO is below --log-level WARNING
    assert "plugin.obs-asgi: GET /obs-asgi/boom failed" in log
    assert "[request_id=xyz]" in log
    assert "Exception in ASGI application" not in log

    quiet = tmp_path / "quiet"
    quiet.mkdir()
    gw = launch_gateway(quiet, "obs-asgi")
    try:
        assert gw.client.get("/obs-asgi/echo", headers={"X-Request-ID": "abc"}).status_code == 200
        line = wait_for(
            lambda: next((x for x in gw.log().splitlines() if "/obs-asgi/echo" in x), None),
            timeout=10,
            what="the access line",
        )
    finally:
        assert gw.stop() == 0, gw.log()
    assert "gateway.access" in line
    assert '"GET /obs-asgi/echo HTTP/1.1" 200 plugin=obs-asgi' in line
    assert "ms request_id=abc" in line


def test_no_access_log_turns_the_gateways_access_line_off(tmp_path: Path) -> None:
    gw = launch_gateway(tmp_path, "obs-asgi", args=["--no-access-log"])
    try:
        assert gw.client.get("/obs-asgi/echo").status_code == 200
        assert gw.client.get("/obs-asgi/boom").status_code == 500
        wait_for(lambda: "boom from the plugin" in gw.log(), timeout=10, what="the error")
    finally:
        assert gw.stop() == 0, gw.log()
    assert "/obs-asgi/echo" not in gw.log()


def test_with_two_workers_every_line_is_json_too(tmp_path: Path) -> None:
    gw = launch_gateway(tmp_path, "obs-asgi", args=["--workers", "2", "--log-format", "json"])
    try:
        for _ in range(10):
            gw.client.get("/obs-asgi/echo", headers={"Connection": "close"})
        wait_for(lambda: gw.log().count('"/obs-asgi/echo"') >= 10, timeout=20, what="access")
    finally:
        assert gw.stop() == 0, gw.log()
    lines = entries(gw)
    messages = [e["message"] for e in lines]
    assert any(m.startswith("Started parent process") for m in messages), messages
    started = [m for m in messages if m.startswith("Started server process")]
    assert len(started) == 2, messages  # each worker's own uvicorn lines
    assert sum("obs-asgi: loaded generation 1" in m for m in messages) == 2
