"""Creates the admin's first superuser from the environment, as ``createsuperuser --noinput``
would (``DJANGO_SUPERUSER_USERNAME``, ``DJANGO_SUPERUSER_PASSWORD``, optional
``DJANGO_SUPERUSER_EMAIL``).

The gateway has no settings module for ``django-admin createsuperuser`` to run against; it
applies every Django plugin's migrations at start-up (and ``gateway migrate`` does), so a
data migration is where a plugin can create its first user. Like any migration it runs once:
without the variables it records itself as applied and creates nobody.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import migrations


def create_superuser(apps: Any, schema_editor: Any) -> None:
    username = os.environ.get("DJANGO_SUPERUSER_USERNAME")
    password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
    if not username or not password:
        return
    user_model = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    user_model.objects.get_or_create(
        username=username,
        defaults={
            "email": os.environ.get("DJANGO_SUPERUSER_EMAIL", ""),
            "password": make_password(password),
            "is_staff": True,
            "is_superuser": True,
        },
    )


class Migration(migrations.Migration):
    dependencies = (migrations.swappable_dependency(settings.AUTH_USER_MODEL),)
    operations = (migrations.RunPython(create_superuser, migrations.RunPython.noop),)
