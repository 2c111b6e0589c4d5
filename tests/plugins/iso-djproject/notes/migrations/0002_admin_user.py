"""Tests only: an admin user and a first note, so the test can log in."""

from django.contrib.auth.hashers import make_password
from django.db import migrations


def create(apps, schema_editor):
    User = apps.get_model("auth", "User")
    User.objects.create(
        username="admin", password=make_password("iso-secret"), is_staff=True, is_superuser=True
    )
    apps.get_model("notes", "Note").objects.create(text="first note")


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial"), ("auth", "__latest__")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
