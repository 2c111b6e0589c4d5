"""``isolation: process`` through the real gateway (contract section 14): crashes stay inside
their plugin, a Django project with its own settings next to an in-process Django app,
conflicting package versions, reloads under load, and no process left behind."""

from __future__ import annotations

import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import FIXTURES, TOKEN, GatewayProcess, admin_login, copy_plugin, wait_for
from isolation_support import pid_alive, workers_of

ISOLATED = "isolation: process\n"


def add(plugins: Path, fixture: str, name: str, manifest: str = ISOLATED) -> Path:
    folder = copy_plugin(FIXTURES / fixture, plugins, name)
    (folder / "plugin.yaml").write_text(manifest)
    return folder


def gateway_on(tmp_path: Path, *plugins: tuple[str, str, str]) -> GatewayProcess:
    """A gateway of its own (not yet ready) on ``plugins``: (fixture, name, manifest) each."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    for fixture, name, manifest in plugins:
        add(folder, fixture, name, manifest)
    return GatewayProcess(tmp_path, folder, [], {}, token=TOKEN)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("isolation")
    plugins = workdir / "plugins"
    plugins.mkdir()
    add(plugins, "iso-echo", "crashy")
    add(plugins, "iso-echo", "steady")
    add(plugins, "iso-djproject", "proj")
    add(plugins, "iso-six-a", "six-a", ISOLATED + "venv: true\n")
    add(plugins, "iso-six-b", "six-b", ISOLATED + "venv: true\n")
    copy_plugin(FIXTURES / "shop", plugins)  # in-process
    copy_plugin(FIXTURES / "dj-accounts", plugins)  # an in-process Django app
    env = {"GATEWAY_PLUGINS_SETTLE_MS": "100", "GATEWAY_PLUGINS_DRAIN_TIMEOUT_S": "5"}
    gateway = GatewayProcess(workdir, plugins, [], env)
    gateway.wait_ready(timeout=180)  # the first venv builds download nothing, but take time
    yield gateway
    assert gateway.stop() == 0, gateway.log()
    assert workers_of(gateway.pid) == []


def metric(gw: GatewayProcess, name: str, **labels: str) -> float:
    text = gw.admin.get("/_gateway/metrics").text
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_the_admin_api_shows_processes_for_isolated_plugins_only(gw: GatewayProcess) -> None:
    isolated = gw.plugin("steady")
    assert (isolated["status"], isolated["isolation"]) == ("active", "process")
    assert isolated["framework"] == "fastapi"
    assert len(isolated["pids"]) == 1 and all(pid_alive(p) for p in isolated["pids"])
    assert isolated["restarts"] == 0 and isolated["rss_bytes"] > 10_000_000
    in_process = gw.plugin("shop")
    assert in_process["isolation"] == "none"
    assert (in_process["pids"], in_process["restarts"], in_process["rss_bytes"]) == (None,) * 3
    assert gw.client.get("/steady/").json()["root_path"] == "/steady"


def test_a_worker_is_not_given_the_gateways_configuration_or_token(gw: GatewayProcess) -> None:
    # the gateway runs with GATEWAY_ADMIN_TOKEN and GATEWAY_PLUGINS_* in its environment
    assert gw.client.get("/steady/gateway-env").json() == []


def test_a_plugin_blocking_its_workers_loop_is_named_and_blocks_nobody_else(
    gw: GatewayProcess,
) -> None:
    done: list[int] = []
    spin = threading.Thread(
        target=lambda: done.append(
            gw.client.get("/steady/spin", params={"seconds": 1.5}).status_code
        )
    )
    spin.start()
    try:
        # while the worker's loop is held, the gateway and the other plugins answer at once
        wait_for(lambda: "plugin steady is blocking the event loop" in gw.log(), timeout=10)
        with httpx.Client(base_url=gw.base_url, timeout=0.5) as quick:
            assert quick.get("/shop/").status_code == 200
            assert quick.get("/_gateway/health").status_code == 200
    finally:
        spin.join(timeout=30)
    assert done == [200]
    line = next(x for x in gw.log().splitlines() if "plugin steady is blocking" in x)
    assert "/steady/app.py:" in line and "in spin" in line, line
    assert "its own requests wait (isolation: process)" in line
    wait_for(lambda: "plugin steady held the event loop for about" in gw.log(), timeout=10)
    # counted with the gateway's own loop's stalls
    wait_for(lambda: metric(gw, "gateway_loop_stalls_total", plugin="steady") == 1, timeout=10)


@pytest.mark.parametrize("how", ["segv", "exit"])
def test_a_crash_answers_502_restarts_and_touches_nobody_else(gw: GatewayProcess, how: str) -> None:
    before = gw.plugin("crashy")
    restarts_metric = metric(gw, "gateway_process_restarts_total", plugin="crashy")
    response = gw.client.get(f"/crashy/crash/{how}")
    assert response.status_code == 502
    # everything else answers meanwhile, the other isolated plugin included
    assert gw.client.get("/steady/").status_code == 200
    assert gw.client.get("/shop/").json() == {"plugin": "shop"}
    assert gw.client.get("/_gateway/health").status_code == 200
    info = gw.wait_plugin("crashy", timeout=30, status="active", restarts=before["restarts"] + 1)
    assert info["pids"] != before["pids"]
    assert gw.client.get("/crashy/").status_code == 200
    assert gw.plugin("steady")["restarts"] == 0
    wait_for(
        lambda: metric(gw, "gateway_process_restarts_total", plugin="crashy") == restarts_metric + 1
    )


def test_while_restarting_the_status_says_so(gw: GatewayProcess) -> None:
    # the restart waits 0.5 s (backoff), then a new interpreter starts: long enough to see
    before = gw.plugin("crashy")["restarts"]
    assert gw.client.get("/crashy/crash/exit").status_code == 502
    info = gw.wait_plugin("crashy", timeout=10, status="restarting")
    assert info["restarts"] == before + 1 and info["pids"] == []
    assert gw.client.get("/_gateway/plugins/crashy/health").status_code == 503
    assert gw.client.get("/crashy/").status_code == 503  # nothing to serve it: no hang
    wait_for(lambda: metric(gw, "gateway_plugin_status", plugin="crashy", status="restarting"))
    gw.wait_plugin("crashy", timeout=30, status="active")
    assert gw.client.get("/_gateway/plugins/crashy/health").status_code == 200
    wait_for(lambda: metric(gw, "gateway_plugin_status", plugin="crashy", status="active"))


def test_a_django_project_with_its_own_settings_beside_an_in_process_django_app(
    gw: GatewayProcess,
) -> None:
    data = gw.client.get("/proj/").json()
    assert data["settings"] == "settings" and data["admin"] == "/proj/admin/"
    assert "/plugins/" not in data["database"]
    with httpx.Client(base_url=gw.base_url, timeout=30) as client:
        response = admin_login(client, "/proj", "admin", "iso-secret")
        assert response.status_code == 302 and response.headers["location"] == "/proj/admin/"
        assert "Site administration" in client.get("/proj/admin/").text
    # the in-process Django app runs in the gateway's own Django runtime, beside it
    assert gw.plugin("dj-accounts")["isolation"] == "none"
    assert gw.client.get("/dj-accounts/admin/login/").status_code == 200


def test_two_plugins_import_different_versions_of_one_package(gw: GatewayProcess) -> None:
    a = gw.client.get("/six-a/version").json()
    b = gw.client.get("/six-b/version").json()
    assert (a["six"], b["six"]) == ("1.16.0", "1.17.0")
    assert "/venvs/" in a["file"] and "/venvs/" in b["file"]


def test_reloads_under_load_fail_no_request_and_leave_no_process(gw: GatewayProcess) -> None:
    folder = gw.plugins_dir / "steady"
    first_pids = gw.plugin("steady")["pids"]
    stop = threading.Event()
    failures: list[str] = []
    counts = [0, 0, 0]

    def hammer(i: int) -> None:
        with httpx.Client(base_url=gw.base_url, timeout=30) as client:
            for _ in range(20_000):  # bounded; stopped long before
                if stop.is_set():
                    return
                try:
                    response = client.get("/steady/")
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:80]}")
                counts[i] += 1

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: sum(counts) > 50)
        generation = gw.plugin("steady")["generation"]
        for _ in range(3):
            (folder / "app.py").write_text((folder / "app.py").read_text() + "\n# touched\n")
            generation += 1
            gw.wait_plugin("steady", timeout=60, generation=generation, status="active")
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert failures == []
    assert sum(counts) > 100
    wait_for(lambda: not any(pid_alive(p) for p in first_pids), timeout=30)
    assert len(workers_of(gw.pid)) == len(
        [
            p
            for name in ("crashy", "steady", "proj", "six-a", "six-b")
            for p in gw.plugin(name)["pids"]
        ]
    )


def test_removing_an_isolated_plugin_stops_its_processes(gw: GatewayProcess) -> None:
    add(gw.plugins_dir, "iso-echo", "goner")
    pids = gw.wait_plugin("goner", timeout=60, status="active")["pids"]
    assert all(pid_alive(p) for p in pids)
    shutil.rmtree(gw.plugins_dir / "goner")
    wait_for(lambda: gw.admin.get("/_gateway/plugins/goner").status_code == 404)
    wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=30)


def test_sigterm_leaves_no_process_behind(tmp_path: Path) -> None:
    gateway = gateway_on(
        tmp_path,
        ("iso-echo", "one", ISOLATED),
        ("iso-echo", "two", ISOLATED + "processes: 2\n"),
    )
    try:
        gateway.wait_ready(timeout=60)
        pids = gateway.plugin("one")["pids"] + gateway.plugin("two")["pids"]
        assert len(pids) == 3 and sorted(workers_of(gateway.pid)) == sorted(pids)
        gateway.proc.send_signal(signal.SIGTERM)
        assert gateway.proc.wait(30) == 0
        wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=10)
    finally:
        gateway.stop()


def test_a_django_projects_processes_starting_together_migrate_once(tmp_path: Path) -> None:
    """Three processes of one Django project start at once on a fresh database: each
    migration is applied by one of them, none fails because of another (section 14 applies
    migrations "as in section 7", where workers and replicas take turns)."""
    gateway = gateway_on(tmp_path, ("iso-djproject", "proj", ISOLATED + "processes: 3\n"))
    try:
        gateway.wait_ready(timeout=120)
        info = gateway.plugin("proj")
        assert (info["status"], info["error"], len(info["pids"])) == ("active", None, 3), info
        assert gateway.plugin("proj")["restarts"] == 0
        for _ in range(6):  # every process answers from the one migrated database
            assert gateway.client.get("/proj/").status_code == 200
        log = gateway.log()
        assert "Traceback" not in log and "already exists" not in log, log
    finally:
        assert gateway.stop() == 0, gateway.log()


def test_a_failed_start_kills_the_processes_that_did_start_and_restarts_none(
    tmp_path: Path,
) -> None:
    gateway = gateway_on(tmp_path, ("iso-first-only", "half", ISOLATED + "processes: 3\n"))
    try:
        gateway.wait_ready(timeout=60)
        info = gateway.plugin("half")
        assert info["status"] == "failed"
        assert "only the first process of this plugin can start" in info["error"]["message"]
        wait_for(lambda: workers_of(gateway.pid) == [], timeout=10, what="no worker left")
        assert "restarting" not in gateway.log(), gateway.log()
        assert gateway.client.get("/_gateway/health").status_code == 200
    finally:
        assert gateway.stop() == 0, gateway.log()
    assert "restarting" not in gateway.log(), gateway.log()
