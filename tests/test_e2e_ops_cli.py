"""Operations from the terminal (CONTRACT section 16), end to end: ``gateway plugins
list|show|reload`` against a running gateway (token from the flag, the environment or the
data folder's token file; wrong token and unreachable gateway are one-line errors, exit 1),
and ``gateway manage`` making a Django plugin's missing migration and its superuser."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
from conftest import (
    FIXTURES,
    TOKEN,
    GatewayProcess,
    admin_login,
    copy_plugin,
    free_port,
    launch_gateway,
)

from gateway.scaffold import write_skeleton


def gateway_cli(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "DJANGO_"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gateway: error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_plugins_list_show_reload(tmp_path: Path) -> None:
    gw = launch_gateway(tmp_path, "obs-asgi", "broken-raises")
    url = gw.base_url
    try:
        listed = gateway_cli(tmp_path, "plugins", "list", "--url", url, "--token", TOKEN)
        assert listed.returncode == 0, listed.stderr
        header, *rows = listed.stdout.strip().splitlines()
        assert header.split()[:4] == ["NAME", "STATUS", "FRAMEWORK", "GENERATION"]
        assert re.match(r"broken-raises\s+failed\s+", rows[0]), rows
        assert "RuntimeError" in rows[0]
        assert re.match(r"obs-asgi\s+active\s+asgi\s+1\s+/obs-asgi", rows[1]), rows

        as_json = gateway_cli(
            tmp_path, "plugins", "list", "--json", "--url", url, env={"GATEWAY_ADMIN_TOKEN": TOKEN}
        )
        assert as_json.returncode == 0, as_json.stderr
        assert [p["name"] for p in json.loads(as_json.stdout)["plugins"]] == [
            "broken-raises",
            "obs-asgi",
        ]

        shown = gateway_cli(tmp_path, "plugins", "show", "obs-asgi", "--url", url, "--token", TOKEN)
        assert shown.returncode == 0, shown.stderr
        assert re.search(r"^status:\s+active$", shown.stdout, re.M), shown.stdout
        assert re.search(r"^generation:\s+1$", shown.stdout, re.M), shown.stdout

        reloaded = gateway_cli(
            tmp_path, "plugins", "reload", "obs-asgi", "--json", "--url", url, "--token", TOKEN
        )
        assert reloaded.returncode == 0, reloaded.stderr
        assert json.loads(reloaded.stdout)["generation"] == 2
        assert gw.plugin("obs-asgi")["generation"] == 2
        # a reload that fails says so, and exits 1
        failed = gateway_cli(
            tmp_path, "plugins", "reload", "broken-raises", "--url", url, "--token", TOKEN
        )
        assert failed.returncode == 1 and "RuntimeError" in failed.stdout

        missing = gateway_cli(tmp_path, "plugins", "show", "nope", "--url", url, "--token", TOKEN)
        assert_one_line_error(missing, "404", "nope")

        wrong = gateway_cli(tmp_path, "plugins", "list", "--url", url, "--token", "not-it")
        assert_one_line_error(wrong, "refused the admin token")
        no_token = gateway_cli(tmp_path, "plugins", "list", "--url", url)
        assert_one_line_error(no_token, "refused the admin token")
    finally:
        assert gw.stop() == 0, gw.log()

    unreachable = gateway_cli(
        tmp_path, "plugins", "list", "--url", f"http://127.0.0.1:{free_port()}", "--token", TOKEN
    )
    assert_one_line_error(unreachable, "cannot reach the gateway")


def test_plugins_uses_the_configuration_and_the_generated_token_file(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "config.yaml").write_text(f"server: {{port: {port}}}\n")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    copy_plugin(FIXTURES / "obs-asgi", plugins)
    gw = GatewayProcess(tmp_path, plugins, token=None, port=port)  # generates one, into data/
    try:
        gw.wait_ready()
        assert (tmp_path / "data" / "admin-token").is_file()
        listed = gateway_cli(tmp_path, "plugins", "list")  # no --url, no --token
        assert listed.returncode == 0, listed.stderr
        assert "obs-asgi" in listed.stdout
    finally:
        assert gw.stop() == 0, gw.log()


def test_plugins_bad_usage_exits_2(tmp_path: Path) -> None:
    assert gateway_cli(tmp_path, "plugins").returncode == 2
    assert gateway_cli(tmp_path, "plugins", "show").returncode == 2
    assert gateway_cli(tmp_path, "plugins", "frobnicate").returncode == 2


def test_manage_makemigrations_then_the_plugin_loads(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    write_skeleton("notes", "django", plugins)
    models = plugins / "notes" / "models.py"
    models.write_text(
        models.read_text().replace(
            "    created =", "    done = models.BooleanField(default=False)\n    created ="
        )
    )
    env = {"GATEWAY_DJANGO_SECRET_KEY": "ops-cli-tests"}
    gw = GatewayProcess(tmp_path, plugins, [], env)
    try:
        gw.wait_ready()
        info = gw.plugin("notes")
        assert info["status"] == "failed"
        assert info["error"]["type"] == "MigrationsMissing"
        assert "gateway manage notes makemigrations" in info["error"]["message"]
        assert "done" in info["error"]["message"]

        made = gateway_cli(tmp_path, "manage", "notes", "makemigrations", env=env)
        assert made.returncode == 0, made.stderr
        assert "0002_" in made.stdout and "done" in made.stdout, made.stdout
        assert list((plugins / "notes" / "migrations").glob("0002_*.py"))

        # the running gateway sees the new migration and loads the plugin with it
        info = gw.wait_plugin("notes", timeout=60, status="active")
        assert info["error"] is None
        assert (
            gw.client.post("/notes/notes/new", data={"title": "with a column"}).status_code == 302
        )
        assert "with a column" in gw.client.get("/notes/notes/").text

        shown = gateway_cli(tmp_path, "manage", "notes", "showmigrations", env=env)
        assert shown.returncode == 0, shown.stderr
        assert "[X] 0002_" in shown.stdout, shown.stdout
    finally:
        assert gw.stop() == 0, gw.log()


def assert_admin_accepts(
    workdir: Path, plugins: Path, env: dict[str, str], prefix: str, user: str, password: str
) -> None:
    """A gateway started on ``plugins`` lets ``user`` log in to the Django admin at
    ``prefix``."""
    gw = GatewayProcess(workdir, plugins, [], env)
    try:
        gw.wait_ready()
        with httpx.Client(base_url=gw.base_url, timeout=30) as browser:
            login = admin_login(browser, prefix, user, password)
            assert login.status_code == 302, login.text[:500]
            assert "Site administration" in browser.get(f"{prefix}/admin/").text
    finally:
        assert gw.stop() == 0, gw.log()


def test_manage_createsuperuser_then_an_admin_login(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    write_skeleton("blog", "django", plugins)
    env = {
        "GATEWAY_DJANGO_SECRET_KEY": "ops-cli-tests",
        "DJANGO_SUPERUSER_USERNAME": "grace",
        "DJANGO_SUPERUSER_PASSWORD": "pw-5678!",
        "DJANGO_SUPERUSER_EMAIL": "grace@example.org",
    }
    made = gateway_cli(tmp_path, "manage", "blog", "createsuperuser", "--noinput", env=env)
    assert made.returncode == 0, made.stderr
    assert "Superuser created successfully" in made.stdout

    again = gateway_cli(tmp_path, "manage", "blog", "createsuperuser", "--noinput", env=env)
    assert again.returncode == 1  # Django's own error, its exit code
    assert "already taken" in again.stderr

    env = {"GATEWAY_DJANGO_SECRET_KEY": "ops-cli-tests"}
    assert_admin_accepts(tmp_path, plugins, env, "/blog", "grace", "pw-5678!")


def test_manage_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    write_skeleton("api", "fastapi", plugins)
    not_django = gateway_cli(tmp_path, "manage", "api", "shell")
    assert_one_line_error(not_django, "fastapi plugin")
    missing = gateway_cli(tmp_path, "manage", "nothing", "shell")
    assert_one_line_error(missing, "nothing")
    assert gateway_cli(tmp_path, "manage").returncode == 2


def test_manage_an_isolated_django_project_and_app_in_their_own_process(tmp_path: Path) -> None:
    """An isolated plugin's command runs set up as its worker: a Django project with its own
    settings (which the gateway's process cannot load), a Django app with its worker's own
    database. The superuser made there is the one its admin then accepts."""
    plugins = tmp_path / "plugins"
    project = copy_plugin(FIXTURES / "iso-djproject", plugins, "proj")
    (project / "plugin.yaml").write_text("isolation: process\n")
    app = copy_plugin(FIXTURES / "dj-ledger", plugins)
    (app / "plugin.yaml").write_text("isolation: process\n")
    env = {
        "DJANGO_SUPERUSER_USERNAME": "ada",
        "DJANGO_SUPERUSER_PASSWORD": "pw-iso-42!",
        "DJANGO_SUPERUSER_EMAIL": "ada@example.org",
    }
    made = gateway_cli(tmp_path, "manage", "proj", "createsuperuser", "--noinput", env=env)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "Superuser created successfully" in made.stdout
    shown = gateway_cli(tmp_path, "manage", "dj-ledger", "showmigrations")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "dj_ledger\n [X] 0001_initial" in shown.stdout
    assert "Traceback" not in made.stderr + shown.stderr

    assert_admin_accepts(tmp_path, plugins, {}, "/proj", "ada", "pw-iso-42!")


def test_manage_refuses_an_isolated_plugin_that_is_not_django(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    write_skeleton("api", "fastapi", plugins)
    (plugins / "api" / "plugin.yaml").write_text("isolation: process\n")
    assert_one_line_error(gateway_cli(tmp_path, "manage", "api", "shell"), "fastapi plugin")
    assert_one_line_error(gateway_cli(tmp_path, "manage", "../plugins", "shell"), "invalid")
