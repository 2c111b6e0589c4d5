"""The settings of the gateway's one Django runtime: working defaults, merged with
``config.yaml`` ``django.settings``.

The database is SQLite in the data folder unless ``django.database_url`` names another
(PostgreSQL for several replicas). The URL is parsed by ``dj-database-url``, the parser Django
users already know, so every form it documents works (``postgres://``, ``postgresql://``,
``sqlite:///``, query options such as ``?sslmode=require``).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...config import DjangoConfig

SECRET_KEY_FILE = "django-secret-key"
SQLITE_FILE = "django.sqlite3"


def secret_key(data_dir: Path, configured: str | None = None) -> str:
    """``django.secret_key`` (``GATEWAY_DJANGO_SECRET_KEY``), else generated once and kept in
    the data folder, which is enough for one replica only: sessions and CSRF tokens signed by
    one replica are refused by another whose key differs."""
    if configured:
        return configured
    file = data_dir / SECRET_KEY_FILE
    if file.is_file():
        return _read_when_written(file)
    key = secrets.token_urlsafe(50)
    # Created readable by the owner only, and never logged. Two workers starting at once
    # may both get here: the one that loses the O_EXCL race reads the winner's key.
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_when_written(file)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def _read_when_written(file: Path) -> str:
    """The key another process has just created (and may still be writing)."""
    import time

    deadline = time.monotonic() + 5
    while not (key := file.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.01)
    if not key:
        raise RuntimeError(f"{file} stayed empty: remove it and restart")
    return key


def database(data_dir: Path, url: str | None) -> dict[str, Any]:
    """Django's ``DATABASES["default"]`` from ``django.database_url`` (null: SQLite in the
    data folder)."""
    if url is None:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(data_dir / SQLITE_FILE)}
    import dj_database_url

    return dict(dj_database_url.parse(url))


def default_settings(data_dir: Path, django: DjangoConfig | None = None) -> dict[str, Any]:
    """Settings under which admin, auth, sessions, CSRF and static files work under each
    plugin's prefix."""
    return {
        "DEBUG": False,
        "SECRET_KEY": secret_key(data_dir, django.secret_key if django else None),
        # The gateway binds to 127.0.0.1 unless told otherwise; restrict this through
        # config.yaml django.settings.ALLOWED_HOSTS when it faces a network.
        "ALLOWED_HOSTS": ["*"],
        "INSTALLED_APPS": [
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
        ],
        "MIDDLEWARE": [
            "gateway.kinds.django.middleware.PluginURLConfMiddleware",
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        "ROOT_URLCONF": "gateway.kinds.django.root_urls",
        "TEMPLATES": [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [],
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        "DATABASES": {"default": database(data_dir, django.database_url if django else None)},
        # Served under each plugin's prefix; URLs come from the request (see storage.py).
        "STATIC_URL": "static/",
        "STORAGES": {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "gateway.kinds.django.storage.PluginStaticFilesStorage"},
        },
        # A URL name, so @login_required sends to the login page under the plugin's prefix.
        "LOGIN_URL": "admin:login",
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "USE_TZ": True,
    }
