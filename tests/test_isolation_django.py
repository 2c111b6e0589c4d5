"""Django in worker processes: a Django *project* with its own settings, database and admin
under its prefix (admin login through CSRF included), and a Django app plugin with a Django
runtime of its own."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from conftest import admin_login
from isolation_support import HostProcess, start_host


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    host = start_host(
        tmp_path_factory.mktemp("django"),
        {"proj": {"folder": "iso-djproject"}, "dj-accounts": {"prefix": "/accounts"}},
    )
    yield host
    host.stop()


def test_a_django_project_runs_with_its_own_settings_and_migrated_database(
    host: HostProcess,
) -> None:
    data = host.client.get("/proj/").json()
    assert data["settings"] == "settings"
    assert data["notes"] == ["first note"]  # its migrations ran at start-up
    assert data["admin"] == "/proj/admin/"  # reverse() under the prefix
    assert data["script_name"] == "/proj"
    assert "/plugins/" not in data["database"]  # in the data folder, not the plugins folder


def test_django_project_admin_login_under_the_prefix(host: HostProcess) -> None:
    with httpx.Client(base_url=host.base_url, timeout=30) as client:
        response = admin_login(client, "/proj", "admin", "iso-secret")
        assert response.status_code == 302, response.text
        assert response.headers["location"] == "/proj/admin/"
        index = client.get("/proj/admin/")
        assert index.status_code == 200
        assert "Site administration" in index.text and "/proj/admin/notes/note/" in index.text
        notes = client.get("/proj/admin/notes/note/")
        assert notes.status_code == 200 and "first note" in notes.text


def test_django_project_refuses_a_login_without_csrf_token(host: HostProcess) -> None:
    with httpx.Client(base_url=host.base_url, timeout=30) as client:
        response = client.post(
            "/proj/admin/login/", data={"username": "admin", "password": "iso-secret"}
        )
        assert response.status_code == 403


def test_an_isolated_django_app_plugin_has_its_own_runtime(host: HostProcess) -> None:
    with httpx.Client(base_url=host.base_url, timeout=30) as client:
        made = client.post("/accounts/make-user/", data={"username": "ann", "password": "pw-12345"})
        assert made.json() == {"created": "ann"}
        assert admin_login(client, "/accounts", "ann", "pw-12345").status_code == 302
        assert client.get("/accounts/whoami/").json() == {"user": "ann"}
    # the project's users are its own: ann does not exist there
    with httpx.Client(base_url=host.base_url, timeout=30) as client:
        assert admin_login(client, "/proj", "ann", "pw-12345").status_code == 200  # form again
