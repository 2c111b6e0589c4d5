"""The settings of the gateway's one Django runtime: working defaults, merged with
``config.yaml`` ``django.settings``."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

SECRET_KEY_ENV = "GATEWAY_DJANGO_SECRET_KEY"
SECRET_KEY_FILE = "django-secret-key"


def secret_key(data_dir: Path) -> str:
    """From ``GATEWAY_DJANGO_SECRET_KEY``, else generated once and kept in the data folder."""
    from_env = os.environ.get(SECRET_KEY_ENV)
    if from_env:
        return from_env
    file = data_dir / SECRET_KEY_FILE
    if file.is_file():
        return file.read_text().strip()
    key = secrets.token_urlsafe(50)
    # Created readable by the owner only, and never logged.
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def default_settings(data_dir: Path) -> dict[str, Any]:
    """Settings under which admin, auth, sessions, CSRF and static files work under each
    plugin's prefix."""
    return {
        "DEBUG": False,
        "SECRET_KEY": secret_key(data_dir),
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
        "DATABASES": {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(data_dir / "django.sqlite3"),
            }
        },
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
