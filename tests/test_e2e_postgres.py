"""Django plugins on a shared database: a real PostgreSQL server (started by the test), two
gateways behaving as one service, and migrations applied once when processes start together.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import FIXTURES, GatewayProcess, copy_plugin, csrf_token, wait_for
from pgserver import PostgresServer, postgres_server

SECRET_KEY = "shared-secret-key-" + "k" * 40


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


def plugins_folder(root: Path) -> Path:
    plugins = root / "plugins"
    plugins.mkdir()
    copy_plugin(FIXTURES / "dj-ledger", plugins)
    copy_plugin(FIXTURES / "dj-accounts", plugins)
    return plugins


def replica(root: Path, plugins: Path, name: str, database_url: str) -> GatewayProcess:
    """A gateway with its own working directory (own data folder) on the shared database."""
    workdir = root / name
    workdir.mkdir()
    env = {"GATEWAY_DJANGO_DATABASE_URL": database_url, "GATEWAY_DJANGO_SECRET_KEY": SECRET_KEY}
    return GatewayProcess(workdir, plugins, [], env)


def duplicated_migrations(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted({row for row in rows if rows.count(row) > 1})


def clean(log: str) -> bool:
    return "Traceback" not in log and not re.search(r"\b(ERROR|CRITICAL)\b", log)


def assert_ledger_writes_to(
    pg: PostgresServer, database: str, gw: GatewayProcess, text: str
) -> None:
    """The dj-ledger plugin of ``gw`` runs on PostgreSQL and an entry posted to it is a row
    of ``database``."""
    assert gw.client.get("/dj-ledger/vendor/").json() == {"vendor": "postgresql"}
    posted = gw.client.post("/dj-ledger/entries/", data={"text": text})
    assert posted.json() == {"entries": [text]}
    with pg.connect(database) as conn:
        rows = conn.execute("SELECT text FROM dj_ledger_entry").fetchall()
    assert rows == [(text,)]


def test_django_plugin_on_postgresql(tmp_path: Path, pg: PostgresServer) -> None:
    database = pg.create_database()
    gw = replica(tmp_path, plugins_folder(tmp_path), "one", pg.url(database))
    try:
        gw.wait_ready()
        assert_ledger_writes_to(pg, database, gw, "stored in postgres")
        assert not (gw.workdir / "data" / "django.sqlite3").exists()
        assert pg.password not in gw.log()
    finally:
        assert gw.stop() == 0, gw.log()


def test_an_isolated_django_app_uses_the_same_database(tmp_path: Path, pg: PostgresServer) -> None:
    """``isolation: process`` moves the app to a process of its own, not to a database of its
    own: the worker is given the gateway's database URL and secret key, in its environment
    (its command line, which ``ps`` shows anyone, holds neither)."""
    database = pg.create_database()
    plugins = tmp_path / "plugins"
    folder = copy_plugin(FIXTURES / "dj-ledger", plugins)
    (folder / "plugin.yaml").write_text("isolation: process\n")
    gw = replica(tmp_path, plugins, "one", pg.url(database))
    try:
        gw.wait_ready()
        (pid,) = gw.plugin("dj-ledger")["pids"]
        assert_ledger_writes_to(pg, database, gw, "from its own process")
        assert not list((gw.workdir / "data").rglob("*.sqlite3"))
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
        assert b"gateway.isolation.worker" in command_line
        assert pg.password.encode() not in command_line
        assert SECRET_KEY.encode() not in command_line
        assert pg.password not in gw.log()
    finally:
        assert gw.stop() == 0, gw.log()


def test_two_gateways_share_data_and_sessions(tmp_path: Path, pg: PostgresServer) -> None:
    url = pg.url(pg.create_database())
    plugins = plugins_folder(tmp_path)
    a = replica(tmp_path, plugins, "a", url)
    b = replica(tmp_path, plugins, "b", url)
    try:
        a.wait_ready()
        b.wait_ready()
        a.client.post("/dj-ledger/entries/", data={"text": "written through a"})
        assert b.client.get("/dj-ledger/entries/").json() == {"entries": ["written through a"]}

        made = b.client.post("/dj-accounts/make-user/", data={"username": "ada", "password": "pw"})
        assert made.json() == {"created": "ada"}
        with httpx.Client(timeout=30) as browser:
            # the login form and its CSRF token from one replica, the login posted to the other
            page = browser.get(f"{a.base_url}/dj-ledger/admin/login/")
            form = {"username": "ada", "password": "pw", "csrfmiddlewaretoken": csrf_token(page)}
            login = browser.post(f"{b.base_url}/dj-ledger/admin/login/", data=form)
            assert login.status_code == 302, login.text[:500]
            # the session it made is known to both (cookies are per host, not per port)
            for gw in (a, b):
                whoami = browser.get(f"{gw.base_url}/dj-accounts/whoami/")
                assert whoami.json() == {"user": "ada"}
    finally:
        assert a.stop() == 0, a.log()
        assert b.stop() == 0, b.log()


def test_replicas_starting_together_migrate_once(tmp_path: Path, pg: PostgresServer) -> None:
    database = pg.create_database()
    plugins = plugins_folder(tmp_path)
    replicas = [replica(tmp_path, plugins, f"r{i}", pg.url(database)) for i in range(3)]
    try:
        for gw in replicas:
            gw.wait_ready()
        with pg.connect(database) as conn:
            rows = [
                (str(a), str(n)) for a, n in conn.execute("SELECT app, name FROM django_migrations")
            ]
        assert ("dj_ledger", "0001_initial") in rows
        assert ("auth", "0001_initial") in rows
        assert duplicated_migrations(rows) == []
        for gw in replicas:
            assert gw.plugin("dj-ledger")["status"] == "active", gw.log()
            assert clean(gw.log()), gw.log()
        replicas[0].client.post("/dj-ledger/entries/", data={"text": "x"})
        assert replicas[2].client.get("/dj-ledger/entries/").json() == {"entries": ["x"]}
    finally:
        for gw in replicas:
            assert gw.stop() == 0, gw.log()


def test_two_workers_on_one_sqlite_data_folder_start_cleanly(tmp_path: Path) -> None:
    plugins = plugins_folder(tmp_path)
    gw = GatewayProcess(tmp_path, plugins, ["--workers", "2"], {})
    try:
        gw.wait_ready()
        wait_for(lambda: gw.log().count("gateway.app: ready:") == 2, timeout=60)
        assert clean(gw.log()), gw.log()
        assert "2 plugin(s) serving, 0 failed" in gw.log()
        for i in range(6):  # new connections, handed to either worker
            response = httpx.post(
                f"{gw.base_url}/dj-ledger/entries/",
                data={"text": str(i)},
                headers={"Connection": "close"},
            )
            assert response.status_code == 200, response.text
        assert len(gw.client.get("/dj-ledger/entries/").json()["entries"]) == 6
        db = sqlite3.connect(tmp_path / "data" / "django.sqlite3")
        rows = [(str(a), str(n)) for a, n in db.execute("SELECT app, name FROM django_migrations")]
        db.close()
        assert ("dj_ledger", "0001_initial") in rows
        assert duplicated_migrations(rows) == []
    finally:
        assert gw.stop() == 0, gw.log()
