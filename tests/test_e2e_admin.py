"""The admin API, end to end: health and readiness, the bearer token, the plugins and reloading.

One gateway (with a configured token) serves most of the module; readiness before the first
scan and the generated token each need a gateway of their own.
"""

from __future__ import annotations

import stat
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from conftest import TOKEN, GatewayProcess, launch_gateway, wait_for

PLUGIN_FIELDS = {
    "name",
    "framework",
    "prefix",
    "status",
    "generation",
    "loaded_at",
    "error",
    "isolation",
    "pids",
    "restarts",
    "rss_bytes",
}
PROTECTED = [
    ("GET", "/_gateway/plugins"),
    ("GET", "/_gateway/plugins/shop"),
    ("GET", "/_gateway/plugins/no-such-plugin"),
    ("POST", "/_gateway/plugins/shop/reload"),
]


@pytest.fixture(scope="module")
def markers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("admin-markers")


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, markers: Path) -> Iterator[GatewayProcess]:
    gateway = launch_gateway(
        tmp_path_factory.mktemp("admin"),
        "shop",
        "flask-a",
        "slow-flask",
        env={"SLOW_MARKER_DIR": str(markers)},
    )
    yield gateway
    assert gateway.stop() == 0, gateway.log()


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "plugins" not in response.json()  # nothing about the plugins leaks


# -- health and readiness ----------------------------------------------------------------------


def test_health_needs_no_token(gw: GatewayProcess) -> None:
    response = gw.client.get("/_gateway/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_after_the_first_scan_needs_no_token(gw: GatewayProcess) -> None:
    assert gw.client.get("/_gateway/ready").status_code == 200


def test_ready_is_503_until_the_first_scan_is_done(tmp_path: Path) -> None:
    gateway = launch_gateway(
        tmp_path, "shop", "gated-import", env={"READY_GATE_DIR": str(tmp_path)}, wait=False
    )
    try:
        health = wait_for(lambda: gateway.client.get("/_gateway/health"), timeout=60)
        assert health.json() == {"status": "ok"}  # serving, but still scanning
        assert gateway.client.get("/_gateway/ready").status_code == 503
        (tmp_path / "open").touch()
        gateway.wait_ready()
        assert gateway.client.get("/gated-import/").text == "gated-import: loaded"
        assert gateway.plugin("gated-import")["status"] == "active"
    finally:
        code = gateway.stop()
    assert code == 0, gateway.log()


# -- the token ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_no_token_is_401_with_www_authenticate(gw: GatewayProcess, method: str, path: str) -> None:
    assert_unauthorized(gw.client.request(method, path))


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer wrong-token",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer",
    ],
)
def test_wrong_token_is_401(gw: GatewayProcess, authorization: str) -> None:
    generation = gw.plugin("shop")["generation"]
    for method, path in PROTECTED:
        assert_unauthorized(
            gw.client.request(method, path, headers={"Authorization": authorization})
        )
    assert gw.plugin("shop")["generation"] == generation  # the refused reload did not happen


# -- the plugins -------------------------------------------------------------------------------


def test_plugins_lists_every_plugin_with_exactly_the_contract_fields(gw: GatewayProcess) -> None:
    response = gw.admin.get("/_gateway/plugins")
    assert response.status_code == 200
    plugins = response.json()["plugins"]
    assert set(response.json()) == {"plugins"}
    assert sorted(p["name"] for p in plugins) == ["flask-a", "shop", "slow-flask"]
    for plugin in plugins:
        assert set(plugin) == PLUGIN_FIELDS, plugin
        assert plugin["status"] == "active"
        assert plugin["prefix"] == f"/{plugin['name']}"
        assert plugin["error"] is None
        assert plugin["generation"] >= 1
        datetime.fromisoformat(plugin["loaded_at"])
    frameworks = {p["name"]: p["framework"] for p in plugins}
    assert frameworks["shop"] == "fastapi" and frameworks["flask-a"] == "flask"


def test_one_plugin_by_name(gw: GatewayProcess) -> None:
    response = gw.admin.get("/_gateway/plugins/flask-a")
    assert response.status_code == 200
    info = response.json()
    assert set(info) == PLUGIN_FIELDS
    assert info["name"] == "flask-a" and info["framework"] == "flask"
    assert info in gw.admin.get("/_gateway/plugins").json()["plugins"]


@pytest.mark.parametrize("name", ["no-such-plugin", "Shop", "shop.."])
def test_unknown_plugin_is_404(gw: GatewayProcess, name: str) -> None:
    response = gw.admin.get(f"/_gateway/plugins/{name}")
    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize("name", ["no-such-plugin", "Shop", "_hidden"])
def test_reload_of_an_unknown_plugin_is_404(gw: GatewayProcess, name: str) -> None:
    response = gw.admin.post(f"/_gateway/plugins/{name}/reload")
    assert response.status_code == 404
    assert name in response.json()["detail"]
    assert gw.admin.get(f"/_gateway/plugins/{name}").status_code == 404  # nothing was created


def test_reload_bumps_the_generation_and_keeps_serving(gw: GatewayProcess) -> None:
    before = gw.plugin("shop")
    response = gw.admin.post("/_gateway/plugins/shop/reload")
    assert response.status_code == 200, response.text
    after = response.json()
    assert set(after) == PLUGIN_FIELDS
    assert after["generation"] == before["generation"] + 1
    assert after["status"] == "active" and after["error"] is None
    assert after["loaded_at"] > before["loaded_at"]
    assert gw.plugin("shop") == after
    assert gw.client.get("/shop/").json() == {"plugin": "shop"}
    assert gw.plugin("flask-a")["generation"] == 1  # the others were not touched


def test_request_in_flight_during_a_reload_finishes_on_the_old_version(
    gw: GatewayProcess, markers: Path
) -> None:
    generation = gw.plugin("slow-flask")["generation"]
    entered = markers / "slow-flask-entered"
    entered.unlink(missing_ok=True)
    result: dict[str, httpx.Response | BaseException] = {}

    def slow_request() -> None:
        try:
            with httpx.Client(base_url=gw.base_url, timeout=30) as client:
                result["response"] = client.get("/slow-flask/slow", params={"s": "2"})
        except BaseException as exc:  # reported by the assertion below
            result["response"] = exc

    request = threading.Thread(target=slow_request)
    request.start()
    try:
        wait_for(entered.exists)
        response = gw.admin.post("/_gateway/plugins/slow-flask/reload")
        assert response.status_code == 200, response.text
        assert response.json()["generation"] == generation + 1
        assert "response" not in result  # the reload did not wait for the old version
    finally:
        request.join(30)
    old = result["response"]
    assert isinstance(old, httpx.Response), old
    assert old.status_code == 200 and old.json()["plugin"] == "slow-flask"
    new = gw.client.get("/slow-flask/slow", params={"s": "0"})
    assert new.status_code == 200 and new.json()["slept"] == 0


# -- a generated token -------------------------------------------------------------------------


def test_generated_token_goes_to_a_private_file_without_a_tty_and_is_the_only_one_that_works(
    tmp_path: Path,
) -> None:
    gateway = launch_gateway(tmp_path, "shop", token=None)
    try:
        file = tmp_path / "data" / "admin-token"
        token = file.read_text().strip()
        assert len(token) >= 20 and token != TOKEN
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        assert str(file) in gateway.log()

        def get(authorization: str | None) -> httpx.Response:
            headers = {"Authorization": authorization} if authorization else {}
            return gateway.client.get("/_gateway/plugins", headers=headers)

        ok = get(f"Bearer {token}")
        assert ok.status_code == 200
        assert [p["name"] for p in ok.json()["plugins"]] == ["shop"]
        assert_unauthorized(get(f"Bearer {TOKEN}"))
        assert_unauthorized(get(f"Bearer {token[:-1]}"))
        assert_unauthorized(get(None))
        for _ in range(3):  # requests with the token do not log it
            assert get(f"Bearer {token}").status_code == 200
    finally:
        code = gateway.stop()
    assert code == 0, gateway.log()
    assert token not in gateway.log(), "the generated token reached the log"
