"""Extensions: a package adding a framework to the gateway through pluggy.

The extension modules live in ``tests/extensions`` (see its README): ``echo_ext`` adds a
made-up framework, ``echo``; ``ext_import_error`` and ``ext_typo`` are broken on purpose.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES, GatewayProcess, wait_for

from gateway.errors import ExtensionError
from gateway.extensions import ENTRY_POINT_GROUP, build_plugin_manager

EXTENSIONS = Path(__file__).resolve().parent / "extensions"
BROKEN = ["ext_import_error", "ext_typo"]


@pytest.fixture(autouse=True)
def extensions_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXTENSIONS))


def frameworks(pm: object) -> set[str]:
    return {f for names in pm.hook.gateway_frameworks() for f in names}  # type: ignore[attr-defined]


def error_of(errors: list[ExtensionError], name: str) -> str:
    matching = [str(e) for e in errors if e.extension == name]
    assert matching, f"no error reported for {name!r}: {errors}"
    return matching[0]


# --- in process: building the plugin manager --------------------------------------------


def test_an_extension_adds_a_framework() -> None:
    pm, errors = build_plugin_manager(["echo_ext"], entry_points=False)
    assert errors == []
    assert pm.has_plugin("echo_ext")
    assert {"echo", "fastapi", "flask", "functions", "django"} <= frameworks(pm)


def test_an_extension_listed_twice_is_registered_once() -> None:
    pm, errors = build_plugin_manager(["echo_ext", "echo_ext"], entry_points=False)
    assert errors == []
    assert [p for p in pm.get_plugins() if getattr(p, "__name__", "") == "echo_ext"]
    assert sorted(frameworks(pm)).count("echo") == 1


def test_extension_raising_at_import_is_reported_by_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="gateway.extensions"):
        pm, errors = build_plugin_manager(["ext_import_error", "echo_ext"], entry_points=False)
    message = error_of(errors, "ext_import_error")
    assert "RuntimeError" in message
    assert "no licence key" in message
    assert "extension 'ext_import_error'" in caplog.text
    assert "echo" in frameworks(pm)  # the next extension still loads


def test_missing_extension_module_is_reported_by_name() -> None:
    pm, errors = build_plugin_manager(["no_such_extension_xyz"], entry_points=False)
    assert "No module named 'no_such_extension_xyz'" in error_of(errors, "no_such_extension_xyz")
    assert "fastapi" in frameworks(pm)


def test_misspelt_hook_is_refused_and_the_extension_left_out() -> None:
    pm, errors = build_plugin_manager(["ext_typo", "echo_ext"], entry_points=False)
    assert "gateway_load_ap" in error_of(errors, "ext_typo")
    assert not pm.has_plugin("ext_typo")
    assert "echo" in frameworks(pm)
    # The misspelt hook must not linger and fail the check of whatever registers next.
    pm.check_pending()


def test_entry_point_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed distribution declaring ``[gateway]`` entry points is picked up.

    The distribution is real as far as importlib.metadata goes: a ``.dist-info`` folder on
    ``sys.path``, as pip leaves one in site-packages.
    """
    dist = tmp_path / "gateway_echo-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: gateway-echo\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\necho = echo_ext\nbroken-ep = no_such_module_for_ep\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    pm, errors = build_plugin_manager()
    assert pm.has_plugin("echo")
    assert "echo" in frameworks(pm)
    assert "no_such_module_for_ep" in error_of(errors, "broken-ep")


# --- the real gateway, over HTTP ----------------------------------------------------------


def extension_env(events: Path) -> dict[str, str]:
    pythonpath = os.pathsep.join(filter(None, [str(EXTENSIONS), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": pythonpath, "ECHO_EVENTS": str(events)}


def events_of(events: Path) -> list[str]:
    return events.read_text().splitlines() if events.exists() else []


def test_extension_framework_served_and_broken_extensions_reported(
    tmp_path: Path, start_gateway: Callable[..., GatewayProcess]
) -> None:
    config = tmp_path / "gateway-config.yaml"
    config.write_text("extensions:\n  - echo_ext\n  - ext_import_error\n  - ext_typo\n")
    events = tmp_path / "events.log"
    bare = tmp_path / "echo-bare"  # no manifest: recognised from its folder by the extension
    bare.mkdir()
    (bare / "reply.txt").write_text("bare echo")

    gw = start_gateway(
        "echo-hello",
        "shop",
        "broken-syntax",
        bare,
        args=["--config", str(config)],
        env=extension_env(events),
    )

    response = gw.client.get("/echo-hello/anything")
    assert response.status_code == 200
    assert response.text == "hello from echo\n"
    assert response.headers["x-echo-root-path"] == "/echo-hello"
    assert gw.client.get("/echo-bare").text == "bare echo"
    assert gw.plugin("echo-hello")["framework"] == "echo"
    assert gw.plugin("echo-bare")["framework"] == "echo"
    # The broken extensions are named at start-up; the gateway and other plugins serve on.
    log = gw.log()
    assert "ext_import_error" in log and "no licence key" in log
    assert "ext_typo" in log and "gateway_load_ap" in log
    assert "Traceback" not in log
    assert gw.client.get("/shop/").json() == {"plugin": "shop"}
    assert gw.plugin("broken-syntax")["status"] == "failed"

    # Lifecycle hooks: loaded and failed at the first scan ...
    wait_for(
        lambda: (
            {
                "started",
                "loaded echo-hello 1 echo",
                "loaded echo-bare 1 echo",
                "loaded shop 1 fastapi",
                "failed broken-syntax SyntaxError",
            }
            <= set(events_of(events))
        )
    )
    # ... loaded again on a change, unloaded on removal, stopped on SIGTERM.
    (gw.plugins_dir / "echo-hello" / "reply.txt").write_text("changed\n")
    wait_for(lambda: gw.client.get("/echo-hello/").text == "changed\n")
    wait_for(lambda: "loaded echo-hello 2 echo" in events_of(events))
    shutil.rmtree(gw.plugins_dir / "echo-bare")
    wait_for(lambda: gw.client.get("/echo-bare").status_code == 404)
    wait_for(lambda: "unloaded echo-bare" in events_of(events))
    assert gw.stop() == 0
    assert events_of(events)[-1] == "stopped"


def test_gateway_check_uses_the_configured_extensions(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("extensions: [echo_ext]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(extension_env(tmp_path / "events.log"))
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "check", str(FIXTURES / "echo-hello")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "framework: echo" in result.stdout
    assert "prefix:    /echo-hello" in result.stdout
    assert "GET /{anything} (echoes reply.txt)" in result.stdout


def test_check_survives_an_extension_failing_to_list_routes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.check import check_plugin
    from gateway.config import Config

    (tmp_path / "ext_bad_routes.py").write_text(
        "from gateway import hookimpl\n\n\n"
        "@hookimpl(tryfirst=True)\n"
        "def gateway_describe_routes(app, framework):\n"
        "    raise RuntimeError('route listing bug')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    config = Config(extensions=["echo_ext", "ext_bad_routes"])
    result = check_plugin(FIXTURES / "echo-hello", config)
    assert result.ok, result.render()
    assert result.framework == "echo"
    assert result.routes == ["? (listing the routes failed: RuntimeError: route listing bug)"]


def test_extension_whose_frameworks_hook_raises_is_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gateway.extensions import build_plugin_manager

    monkeypatch.syspath_prepend(str(Path(__file__).parent / "extensions"))
    pm, errors = build_plugin_manager(["ext_bad_frameworks"], entry_points=False)
    assert [e.extension for e in errors] == ["ext_bad_frameworks"]
    assert "gateway_frameworks() failed: RuntimeError: misconfigured" in str(errors[0])
    assert "fastapi" in {f for names in pm.hook.gateway_frameworks() for f in names}
