"""What a worker process is given: its spec on the command line, secrets and the plugin's
``env:`` in its environment, and nothing of the gateway's own configuration."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from gateway.config import Config
from gateway.isolation import venv
from gateway.isolation.process import worker_environment
from gateway.isolation.spec import WorkerSpec
from gateway.manifest import read_manifest

URL = "postgres://app:pa55word@db.internal:5432/app"
KEY = "k" * 50


def spec(**fields: object) -> WorkerSpec:
    base: dict[str, object] = {
        "name": "shop",
        "folder": Path("/srv/plugins/shop"),
        "prefix": "/shop",
        "data_dir": Path("/srv/data"),
    }
    base.update(fields)
    return WorkerSpec(**base)  # type: ignore[arg-type]


def test_secrets_never_reach_the_command_line_and_come_back_from_the_environment() -> None:
    original = spec(django_database_url=URL, django_secret_key=KEY, log_format="json")
    text = original.to_json()
    assert "pa55word" not in text and KEY not in text
    environ = original.secret_env()
    assert environ == {"GATEWAY_DJANGO_DATABASE_URL": URL, "GATEWAY_DJANGO_SECRET_KEY": KEY}
    assert WorkerSpec.from_json(text, environ) == original
    assert WorkerSpec.from_json(text, {}).django_database_url is None
    assert "pa55word" not in repr(original) and KEY not in repr(original)


def test_the_spec_carries_the_gateways_django_database_and_log_format(tmp_path: Path) -> None:
    config = Config.model_validate(
        {
            "server": {"log_format": "json"},
            "django": {"database_url": URL, "secret_key": KEY},
        }
    )
    (tmp_path / "plugin.yaml").write_text("isolation: process\n")
    manifest = read_manifest(tmp_path, "shop")
    made = WorkerSpec.for_plugin("shop", tmp_path, manifest, config, Path("/d"))
    assert (made.django_database_url, made.django_secret_key) == (URL, KEY)
    assert made.log_format == "json"


def test_the_worker_environment_keeps_the_gateways_own_variables_out() -> None:
    gateway_env = {
        "PATH": "/usr/bin",
        "HOME": "/home/app",
        "GATEWAY_ADMIN_TOKEN": "admin-secret",
        "GATEWAY__RESOLVED_CONFIG": '{"admin": {"token": "admin-secret"}}',
        "GATEWAY_DJANGO_DATABASE_URL": "postgres://other",
        "DJANGO_SETTINGS_MODULE": "gateway_settings",
    }
    env = worker_environment(
        spec(django_database_url=URL, env={"PATH": "/opt/bin", "FEATURE": "on"}), gateway_env
    )
    assert env == {
        "PATH": "/opt/bin",  # the plugin's env: overrides what it inherits
        "HOME": "/home/app",
        "FEATURE": "on",
        "GATEWAY_DJANGO_DATABASE_URL": URL,  # the spec's, not whatever the gateway had
    }


def test_the_venv_installer_is_not_given_the_gateways_variables_either(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installing from requirements.txt may build an sdist, i.e. run a package's code."""
    monkeypatch.setenv("GATEWAY_ADMIN_TOKEN", "admin-secret")
    monkeypatch.setenv("SOME_PROXY", "http://proxy")
    script = tmp_path / "env.py"
    script.write_text("import json, os; print(json.dumps(dict(os.environ)))\n")
    out = asyncio.run(venv._run(spec(), [sys.executable, str(script)]))
    seen = json.loads(out)
    assert "GATEWAY_ADMIN_TOKEN" not in seen
    assert seen["SOME_PROXY"] == "http://proxy" and seen["NO_COLOR"] == "1"
