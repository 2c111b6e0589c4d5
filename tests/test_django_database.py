"""``django.database_url`` and ``django.secret_key``: where they come from, what Django gets,
and that the password and the key never show in a repr or an error message."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.errors import ConfigError
from gateway.kinds.django.settings import default_settings

PASSWORD = "pa55-w0rd-xyz"


def test_database_url_and_secret_key_from_the_environment(tmp_path: Path) -> None:
    env = {
        "GATEWAY_DJANGO_DATABASE_URL": f"postgres://app:{PASSWORD}@db.internal:6432/gw",
        "GATEWAY_DJANGO_SECRET_KEY": "k" * 50,
    }
    config = load_config(env=env, cwd=tmp_path)
    settings = default_settings(tmp_path, config.django)
    assert settings["SECRET_KEY"] == "k" * 50
    db = settings["DATABASES"]["default"]
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "app",
        PASSWORD,
        "db.internal",
        6432,
        "gw",
    )
    assert PASSWORD not in repr(config) and "k" * 50 not in repr(config)
    assert not (tmp_path / "django-secret-key").exists()


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "pgsql"])
def test_postgres_url_schemes(tmp_path: Path, scheme: str) -> None:
    (tmp_path / "config.yaml").write_text(
        f"django: {{database_url: '{scheme}://u:p@h/name?sslmode=require'}}\n"
    )
    config = load_config(env={}, cwd=tmp_path)
    db = default_settings(tmp_path, config.django)["DATABASES"]["default"]
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert db["OPTIONS"] == {"sslmode": "require"}


def test_sqlite_url_and_the_default(tmp_path: Path) -> None:
    default = default_settings(tmp_path, load_config(env={}, cwd=tmp_path).django)
    assert default["DATABASES"]["default"] == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(tmp_path / "django.sqlite3"),
    }
    env = {"GATEWAY_DJANGO_DATABASE_URL": "sqlite:////srv/gateway/db.sqlite3"}
    db = default_settings(tmp_path, load_config(env=env, cwd=tmp_path).django)["DATABASES"]
    assert db["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert db["default"]["NAME"] == "/srv/gateway/db.sqlite3"


def test_generated_secret_key_is_kept_in_the_data_folder(tmp_path: Path) -> None:
    first = default_settings(tmp_path)["SECRET_KEY"]
    assert default_settings(tmp_path)["SECRET_KEY"] == first
    key_file = tmp_path / "django-secret-key"
    assert key_file.read_text() == first
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_bad_database_url_is_a_config_error_without_the_password(tmp_path: Path) -> None:
    env = {"GATEWAY_DJANGO_DATABASE_URL": f"nosuchdb://app:{PASSWORD}@host/db"}
    with pytest.raises(ConfigError) as info:
        load_config(env=env, cwd=tmp_path)
    message = str(info.value)
    assert message.startswith("GATEWAY_DJANGO_DATABASE_URL: django.database_url: expected a ")
    assert "postgres://user:password@host:5432/name" in message
    assert PASSWORD not in message and "got a hidden value" in message
    assert info.value.key == "django.database_url"
