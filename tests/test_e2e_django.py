"""Django plugins end to end: several Django apps, the admin, CSRF, static files and reloads
under their prefixes, next to Flask and FastAPI plugins in the same process."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import EXAMPLES, FIXTURES, GatewayProcess, copy_plugin, csrf_token, wait_for

from gateway.scaffold import write_skeleton


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("django")
    plugins = workdir / "plugins"
    plugins.mkdir()
    write_skeleton("blog", "django", plugins)
    write_skeleton("shop", "django", plugins)
    copy_plugin(FIXTURES / "dj-accounts", plugins)
    copy_plugin(EXAMPLES / "flask-demo", plugins)
    copy_plugin(EXAMPLES / "fastapi-demo", plugins)
    gateway = GatewayProcess(workdir, plugins, [], {"GATEWAY_PLUGINS_SETTLE_MS": "100"})
    gateway.wait_ready()
    yield gateway
    assert gateway.stop() == 0, gateway.log()


def test_two_django_plugins_reverse_to_their_own_prefix(gw: GatewayProcess) -> None:
    assert gw.client.get("/blog/notes/").json()["url"] == "/blog/notes/"
    assert gw.client.get("/shop/notes/").json()["url"] == "/shop/notes/"
    blog, shop = gw.client.get("/blog/"), gw.client.get("/shop/")
    assert 'href="/blog/static/blog/style.css"' in blog.text
    assert 'href="/shop/static/shop/style.css"' in shop.text
    assert 'href="/shop/admin/"' in shop.text
    assert {gw.plugin(n)["framework"] for n in ("blog", "shop", "dj-accounts")} == {"django"}


def test_no_cross_talk_under_concurrent_requests(gw: GatewayProcess) -> None:
    def fetch(i: int) -> tuple[str, str]:
        name = ("blog", "shop")[i % 2]
        return name, gw.client.get(f"/{name}/notes/").json()["url"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(fetch, range(200)))
    assert all(url == f"/{name}/notes/" for name, url in results)


def test_django_flask_and_fastapi_in_one_process(gw: GatewayProcess) -> None:
    assert gw.client.get("/blog/").status_code == 200
    assert gw.client.get("/flask-demo/").json()["framework"] == "flask"
    assert gw.client.get("/fastapi-demo/").json()["framework"] == "fastapi"


def test_append_slash_redirect_keeps_the_prefix(gw: GatewayProcess) -> None:
    response = gw.client.get("/shop/notes")
    assert response.status_code == 301
    assert response.headers["location"].endswith("/shop/notes/")


def test_static_files_under_the_prefix(gw: GatewayProcess) -> None:
    css = gw.client.get("/blog/static/admin/css/base.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "DJANGO Admin styles" in css.text
    own = gw.client.get("/shop/static/shop/style.css")
    assert own.status_code == 200 and own.headers["content-type"].startswith("text/css")
    assert gw.client.get("/shop/static/shop/missing.css").status_code == 404


def test_login_required_sends_to_the_prefixed_login(gw: GatewayProcess) -> None:
    response = gw.client.get("/blog/private/")
    assert response.status_code == 302
    assert response.headers["location"] == "/blog/admin/login/?next=/blog/private/"


def test_full_admin_login_under_the_prefix(gw: GatewayProcess) -> None:
    made = gw.client.post(
        "/dj-accounts/make-user/", data={"username": "ada", "password": "pw-1234!"}
    )
    assert made.json() == {"created": "ada"}
    with httpx.Client(base_url=gw.base_url, timeout=30) as browser:
        page = browser.get("/blog/admin/login/", params={"next": "/blog/admin/"})
        assert page.status_code == 200 and "csrftoken" in browser.cookies
        token = csrf_token(page)
        form = {"username": "ada", "password": "pw-1234!", "next": "/blog/admin/"}
        # Without the CSRF token the login is refused.
        assert browser.post("/blog/admin/login/", data=form).status_code == 403
        form["csrfmiddlewaretoken"] = token
        login = browser.post("/blog/admin/login/?next=/blog/admin/", data=form)
        assert login.status_code == 302, login.text[:500]
        assert login.headers["location"] == "/blog/admin/"
        index = browser.get("/blog/admin/")
        assert index.status_code == 200
        assert "Site administration" in index.text
        assert 'href="/blog/admin/blog/note/"' in index.text
        changelist = browser.get("/blog/admin/blog/note/")
        assert changelist.status_code == 200 and "Select note to change" in changelist.text
        # the session is the one Django runtime's: the login holds under another plugin
        assert browser.get("/dj-accounts/whoami/").json() == {"user": "ada"}


def test_model_created_through_a_view_survives_a_reload(gw: GatewayProcess) -> None:
    created = gw.client.post("/blog/notes/new", data={"title": "kept across reloads"})
    assert created.status_code == 302
    generation = gw.plugin("blog")["generation"]
    reloaded = gw.admin.post("/_gateway/plugins/blog/reload")
    assert reloaded.status_code == 200
    assert reloaded.json()["generation"] == generation + 1
    assert reloaded.json()["status"] == "active"
    assert "kept across reloads" in gw.client.get("/blog/notes/").json()["notes"]


def test_views_and_templates_reload_in_place(gw: GatewayProcess) -> None:
    folder = gw.plugins_dir / "shop"
    generation = gw.plugin("shop")["generation"]
    views = folder / "views.py"
    views.write_text(
        views.read_text().replace('"url": reverse("notes")', '"url": reverse("notes"), "v": 2')
    )
    gw.wait_plugin("shop", generation=generation + 1)
    assert gw.client.get("/shop/notes/").json()["v"] == 2
    template = folder / "templates" / "shop" / "index.html"
    template.write_text(template.read_text().replace("<h1>shop</h1>", "<h1>shop, edited</h1>"))
    gw.wait_plugin("shop", generation=generation + 2)
    assert "<h1>shop, edited</h1>" in gw.client.get("/shop/").text


def test_changed_models_need_a_restart_and_old_version_keeps_serving(gw: GatewayProcess) -> None:
    models = gw.plugins_dir / "blog" / "models.py"
    original = models.read_text()
    before = gw.plugin("blog")
    models.write_text(
        original + "\n\nclass Tag(models.Model):\n    name = models.CharField(max_length=20)\n"
    )
    info = gw.wait_plugin("blog", status="restart-required")
    assert info["generation"] == before["generation"]
    assert info["error"]["type"] == "RestartRequired"
    assert "models.py" in info["error"]["message"] and "restart" in info["error"]["message"]
    assert gw.client.get("/blog/notes/").status_code == 200  # the old version serves
    models.write_text(original)  # undoing the change makes the plugin reloadable again
    info = gw.wait_plugin("blog", status="active", error=None)
    assert info["generation"] == before["generation"] + 1


def test_plugin_with_its_own_settings_gets_the_one_settings_error(gw: GatewayProcess) -> None:
    staging = gw.plugins_dir / ".mysite.tmp"
    staging.mkdir()
    (staging / "urls.py").write_text("urlpatterns = []\n")
    (staging / "settings.py").write_text("SECRET_KEY = 'x'\n")
    staging.rename(gw.plugins_dir / "mysite")
    info = wait_for(
        lambda: (i := gw.admin.get("/_gateway/plugins/mysite")).status_code == 200 and i.json()
    )
    assert info["status"] == "failed"
    assert info["error"]["type"] == "DjangoSettingsError"
    assert "one settings module per process" in info["error"]["message"]
    assert "isolation: process" in info["error"]["message"]
    assert gw.client.get("/blog/").status_code == 200
    shutil.rmtree(gw.plugins_dir / "mysite")


def test_a_django_plugin_with_models_can_be_removed_and_added_again(
    gw: GatewayProcess, tmp_path: Path
) -> None:
    write_skeleton("again", "django", tmp_path)
    shutil.copytree(tmp_path / "again", gw.plugins_dir / ".again.tmp")
    (gw.plugins_dir / ".again.tmp").rename(gw.plugins_dir / "again")
    gw.wait_plugin("again", status="active")
    assert gw.client.get("/again/notes/").status_code == 200
    shutil.rmtree(gw.plugins_dir / "again")
    wait_for(lambda: gw.client.get("/again/notes/").status_code == 404)
    wait_for(lambda: "plugin again: generation 1 shut down and released" in gw.log())
    shutil.copytree(tmp_path / "again", gw.plugins_dir / ".again.tmp")
    (gw.plugins_dir / ".again.tmp").rename(gw.plugins_dir / "again")
    info = gw.wait_plugin("again", generation=1)
    assert (info["status"], info["error"]) == ("active", None)
    assert gw.client.get("/again/notes/").status_code == 200


def test_plugin_code_that_configures_settings_gets_the_one_settings_error(
    gw: GatewayProcess,
) -> None:
    staging = gw.plugins_dir / ".selfconf.tmp"
    staging.mkdir()
    (staging / "urls.py").write_text(
        "from django.conf import settings\n\nsettings.configure(DEBUG=True)\nurlpatterns = []\n"
    )
    staging.rename(gw.plugins_dir / "selfconf")
    info = gw.wait_plugin("selfconf", status="failed")
    assert info["error"]["type"] == "DjangoSettingsError"
    assert "one settings module per process" in info["error"]["message"]
    assert "urls.py" in info["error"]["message"]
    assert gw.client.get("/blog/").status_code == 200
    shutil.rmtree(gw.plugins_dir / "selfconf")


def test_a_second_gateway_in_the_process_cannot_silently_take_other_django_settings(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys
    import textwrap

    for side in ("a", "b"):
        write_skeleton("notes", "django", tmp_path / side / "plugins")
    code = textwrap.dedent(
        """
        import asyncio, json, sys
        from pathlib import Path
        from gateway.app import Gateway
        from gateway.config import Config

        async def main():
            answers = []
            for side, zone in (("a", "UTC"), ("a", "UTC"), ("b", "Europe/Paris")):
                config = Config.model_validate({
                    "plugins": {"dir": "plugins", "watch": False},
                    "django": {"settings": {"TIME_ZONE": zone}},
                })
                gateway = Gateway(config, cwd=Path(side))
                gateway.events.started()
                info = await gateway.registry.load("notes")
                answers.append([info.status, info.error and info.error["type"],
                                info.error and info.error["message"]])
                await gateway.shutdown()
            print(json.dumps(answers))

        asyncio.run(main())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    first, same, other = json.loads(result.stdout.splitlines()[-1])
    assert first[:2] == ["active", None]
    assert same[:2] == ["active", None]  # the same configuration shares the runtime
    assert other[:2] == ["failed", "DjangoSettingsError"]
    assert "another gateway" in other[2]


def test_gateway_migrate_command(tmp_path: Path) -> None:
    import subprocess
    import sys

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    write_skeleton("notes", "django", plugins)
    copy_plugin(EXAMPLES / "flask-demo", plugins)
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "migrate", "--plugins", str(plugins)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "notes" in result.stdout and "flask-demo" not in result.stdout
    import sqlite3

    tables = {
        row[0]
        for row in sqlite3.connect(tmp_path / "data" / "django.sqlite3").execute(
            "select name from sqlite_master where type='table'"
        )
    }
    assert {"notes_note", "auth_user", "django_session"} <= tables
