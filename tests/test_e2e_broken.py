"""Broken plugins, end to end: each fails alone with a message that says what and where, and
the plugins next to them keep serving.

One gateway serves the whole module: every broken fixture plus two working plugins.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import FIXTURES, GatewayProcess, launch_gateway, wait_for

HEALTHY = ("shop", "flask-a")
BROKEN_FOLDERS = sorted(
    p.name for p in FIXTURES.iterdir() if p.name.startswith("broken-") and p.is_dir()
)
PREFIX_CLAIMERS = ("zz-duplicate", "admin-squatter")

#: plugin -> (error type, file named in the message or None, what the message must say)
EXPECTED: dict[str, tuple[str, str | None, list[str]]] = {
    "broken-syntax": ("SyntaxError", "app.py", ["syntax error", "line 3", "never closed"]),
    "broken-import": ("ImportError", "app.py", ["No module named 'no_such_module_anywhere'"]),
    "broken-relative": (
        "ImportError",
        "app.py",
        ["'import views'", "relative import", "from . import views"],
    ),
    "broken-noattr": ("AttributeError", "app.py", ["attribute 'app' not found"]),
    "broken-notapp": ("NotAnApp", "app.py", ["'int'", "not an ASGI or WSGI application"]),
    "broken-raises": ("RuntimeError", "app.py", ["RuntimeError", "database unreachable"]),
    "broken-exit": ("SystemExit", "app.py", ["sys.exit(3)"]),
    "broken-manifest": ("ManifestError", "plugin.yaml", ["unknown key 'prefx'", "prefix"]),
    "broken-yaml": ("ManifestError", "plugin.yaml", ["YAML", "line 2"]),
    "broken-framework": (
        "ManifestError",
        "plugin.yaml",
        ["unknown framework 'quart'", "fastapi", "flask", "functions", "wsgi", "asgi"],
    ),
    "broken-lifespan": (
        "LifespanError",
        "app.py",
        ["lifespan startup failed", "RuntimeError: cannot connect to the cache"],
    ),
    "broken-requirements": (
        "RequirementError",
        "requirements.txt",
        ["unmet requirements", "no-such-package-xyz>=1.0", "starlette<0.1"],
    ),
    # The prefix is claimed in plugin.yaml; the message names both plugins (or the
    # reserved admin prefix).
    "zz-duplicate": ("PrefixConflict", "plugin.yaml", ["'/shop'", "'shop'", "'zz-duplicate'"]),
    "admin-squatter": (
        "PrefixReserved",
        "plugin.yaml",
        ["'/_gateway/mine'", "admin", "'/_gateway'"],
    ),
}
BROKEN = sorted(EXPECTED)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    gateway = launch_gateway(
        tmp_path_factory.mktemp("broken"), *HEALTHY, *BROKEN_FOLDERS, *PREFIX_CLAIMERS
    )
    yield gateway
    assert gateway.stop() == 0, gateway.log()


def test_every_broken_fixture_is_covered() -> None:
    assert set(BROKEN_FOLDERS) | set(PREFIX_CLAIMERS) == set(EXPECTED)


@pytest.mark.parametrize("name", BROKEN)
def test_broken_plugin_fails_saying_what_and_where(gw: GatewayProcess, name: str) -> None:
    error_type, file, phrases = EXPECTED[name]
    info = gw.plugin(name)
    assert info["status"] == "failed"
    assert info["generation"] == 0 and info["loaded_at"] is None
    error = info["error"]
    assert set(error) == {"type", "message"}
    assert error["type"] == error_type
    message = error["message"]
    assert f"'{name}'" in message, message
    if file is not None:
        assert f"{name}/{file}" in message, message
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in {message!r}"
    assert "\n" not in message and "Traceback" not in message, message


@pytest.mark.parametrize("name", BROKEN)
def test_broken_plugin_serves_nothing(gw: GatewayProcess, name: str) -> None:
    if name == "zz-duplicate":
        # its prefix stays with the plugin that claimed it first
        assert gw.client.get("/shop/").json() == {"plugin": "shop"}
        return
    prefix = gw.plugin(name)["prefix"] or f"/{name}"
    response = gw.client.get(prefix + "/")
    if name == "admin-squatter":
        assert response.status_code == 401  # still the admin API's, behind its token
    else:
        assert response.status_code == 404
        assert response.json() == {"detail": "Not Found"}


def test_healthy_plugins_serve_next_to_broken_ones(gw: GatewayProcess) -> None:
    assert gw.client.get("/shop/").json() == {"plugin": "shop"}
    assert gw.client.get("/flask-a/count").json()["plugin"] == "flask-a"
    statuses = {p["name"]: p["status"] for p in gw.admin.get("/_gateway/plugins").json()["plugins"]}
    assert statuses == {**dict.fromkeys(BROKEN, "failed"), **dict.fromkeys(HEALTHY, "active")}


def test_reloading_every_broken_plugin_never_disturbs_the_healthy_ones(
    gw: GatewayProcess,
) -> None:
    stop = threading.Event()
    seen: list[tuple[str, int]] = []

    def keep_asking() -> None:
        with httpx.Client(base_url=gw.base_url, timeout=30) as client:
            while not stop.is_set():
                for path in ("/shop/", "/flask-a/count"):
                    seen.append((path, client.get(path).status_code))

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        wait_for(lambda: len(seen) >= 2)
        for _ in range(3):
            for name in BROKEN:
                response = gw.admin.post(f"/_gateway/plugins/{name}/reload")
                assert response.status_code == 200, response.text
                info = response.json()
                assert info["status"] == "failed"
                assert info["error"]["type"] == EXPECTED[name][0]
                # and right after each failed reload, the neighbours still answer
                assert gw.client.get("/shop/").status_code == 200
                assert gw.client.get("/flask-a/count").status_code == 200
        done = len(seen)
        wait_for(lambda: len(seen) >= done + 2)
    finally:
        stop.set()
        asker.join(30)
    assert {status for _, status in seen} == {200}, [s for s in seen if s[1] != 200][:5]
    assert gw.client.get("/_gateway/health").json() == {"status": "ok"}


def test_log_reports_each_failure_on_one_line_without_traceback(gw: GatewayProcess) -> None:
    log = gw.log()
    for name in BROKEN:
        line = re.search(rf"^.*plugin {re.escape(name)}: load failed.*$", log, re.MULTILINE)
        assert line, f"no 'load failed' line for {name}:\n{log}"
        assert f"'{name}'" in line.group(0)
    assert "Traceback" not in log
    assert "unexpected error" not in log
    assert " ERROR " not in log


def test_stopping_does_not_load_a_plugin_that_lost_a_prefix_conflict(tmp_path: Path) -> None:
    gateway = launch_gateway(tmp_path, "shop", "zz-duplicate")
    assert gateway.plugin("zz-duplicate")["error"]["type"] == "PrefixConflict"
    assert gateway.stop() == 0, gateway.log()
    assert "plugin zz-duplicate: loaded" not in gateway.log()
