"""gateway.compat: what it relies on in other libraries is still there in the installed
versions, and each shim does its job. An upgrade that breaks one fails here, not in use."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from gateway.compat import CHECKED_AGAINST

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("distribution", sorted(CHECKED_AGAINST))
def test_installed_versions_are_the_ones_checked(distribution: str) -> None:
    installed = metadata.version(distribution)
    checked = CHECKED_AGAINST[distribution]
    assert installed == checked or installed.startswith(checked + "."), (
        f"{distribution} {installed} is installed, but gateway/compat.py was checked against "
        f"{checked}: re-check its uses of {distribution}'s private API, then update CHECKED_AGAINST"
    )


def run(code: str, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_django_private_api_is_there(tmp_path: Path) -> None:
    run(
        """
        import django
        from django.conf import settings
        settings.configure(
            INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth",
                            "django.contrib.contenttypes", "django.contrib.sessions",
                            "django.contrib.messages", "django.contrib.staticfiles"],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        )
        django.setup()
        import types
        from gateway import compat
        from django.apps import apps
        from django.contrib import admin
        assert isinstance(apps.app_configs, dict) and isinstance(apps.all_models, dict)
        assert isinstance(admin.site._registry, dict)
        package = types.ModuleType("compat_probe")
        package.__path__ = ["."]
        config = compat.django_register_app("compat_probe", "compat_probe", package, ".")
        assert compat.django_app_config("compat_probe") is config
        assert apps.get_app_config("compat_probe") is config
        user_admin = compat.django_admin_entries("auth")
        assert user_admin, "auth registers User and Group in the admin"
        compat.django_restore_admin("auth", {})
        assert compat.django_admin_entries("auth") == {}
        compat.django_restore_admin("auth", user_admin)
        assert compat.django_admin_entries("auth") == user_admin
        compat.django_restore_app("compat_probe", None)
        assert compat.django_app_config("compat_probe") is None
        from django.template import engines
        engines.all()
        compat.django_reset_caches()
        assert engines._engines == {} and "templates" not in engines.__dict__
        """,
        tmp_path,
    )


FLASK_PROBE = """
    import sys, types
    {before}
    from gateway.compat import install_flask_instance_paths
    from gateway.namespace import DATA_ATTRIBUTE, plugin_data_folder

    def folder_of(name):
        folder = plugin_data_folder(name)
        return str(folder) if folder else None

    install_flask_instance_paths(folder_of)
    install_flask_instance_paths(folder_of)  # twice is once
    package = types.ModuleType("gateway_plugin_probe_1")
    package.__path__ = ["/plugins/probe"]
    setattr(package, DATA_ATTRIBUTE, "/data/plugins/probe")
    sys.modules["gateway_plugin_probe_1"] = package
    import flask
    print(flask.Flask("gateway_plugin_probe_1.app").instance_path)
    print(flask.Flask("some_other_app").instance_path)
"""


@pytest.mark.parametrize("before", ["", "import flask"], ids=["flask-imported-later", "already"])
def test_flask_apps_of_plugins_keep_their_instance_folder_in_the_data_folder(
    tmp_path: Path, before: str
) -> None:
    plugin_app, other_app = run(FLASK_PROBE.format(before=before), tmp_path).split()
    assert plugin_app == "/data/plugins/probe/instance"
    assert other_app == str(tmp_path / "instance")  # Flask's own answer, untouched
