"""``gateway new NAME --framework F``: write a working plugin skeleton."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from .errors import GatewayError
from .manifest import validate_name

FASTAPI = '''\
"""The {name} plugin: a FastAPI app served by the gateway under {prefix}."""

from fastapi import FastAPI

app = FastAPI(title="{name}")


@app.get("/")
async def index() -> dict[str, str]:
    return {{"plugin": "{name}", "framework": "fastapi"}}


@app.get("/items/{{item_id}}")
async def item(item_id: int) -> dict[str, int]:
    return {{"item_id": item_id}}
'''

FLASK = '''\
"""The {name} plugin: a Flask app served by the gateway under {prefix}."""

from flask import Flask, jsonify, url_for

app = Flask(__name__)


@app.get("/")
def index():
    return jsonify(plugin="{name}", framework="flask", hello_url=url_for("hello", who="world"))


@app.get("/hello/<who>")
def hello(who: str):
    return jsonify(message=f"hello {{who}}")
'''

FUNCTIONS = '''\
"""The {name} plugin: plain functions served as JSON endpoints under {prefix}."""

from gateway import HTTPError, endpoint


@endpoint
def hello(name: str = "world") -> dict[str, str]:
    """GET {prefix}/hello?name=... -> {{"message": "hello ..."}}"""
    return {{"message": f"hello {{name}}"}}


@endpoint("/add", methods=["GET", "POST"])
def add(a: int, b: int) -> dict[str, int]:
    return {{"sum": a + b}}


@endpoint("/divide")
def divide(a: float, b: float) -> dict[str, float]:
    if b == 0:
        raise HTTPError(400, "b must not be 0")
    return {{"quotient": a / b}}
'''

DJANGO_URLS = """\
from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("notes/", views.notes, name="notes"),
    path("notes/new", views.new_note, name="new-note"),
    path("private/", views.private, name="private"),
]
"""

DJANGO_VIEWS = '''\
"""Views of the {name} plugin, a Django app served by the gateway under {prefix}."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import Note


def index(request: HttpRequest) -> HttpResponse:
    context = {{"notes": Note.objects.order_by("-created")[:20], "admin_url": reverse("admin:index")}}
    return render(request, "{label}/index.html", context)


def notes(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {{"notes": [n.title for n in Note.objects.order_by("id")], "url": reverse("notes")}}
    )


@csrf_exempt  # an example API endpoint; forms served by Django keep their CSRF token
@require_POST
def new_note(request: HttpRequest) -> HttpResponse:
    Note.objects.create(title=request.POST.get("title", "untitled"))
    return redirect("notes")


@login_required
def private(request: HttpRequest) -> JsonResponse:
    return JsonResponse({{"user": request.user.get_username()}})
'''

DJANGO_MODELS = """\
from django.db import models


class Note(models.Model):
    title = models.CharField(max_length=200)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.title
"""

DJANGO_ADMIN = """\
from django.contrib import admin

from .models import Note


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ["title", "created"]
"""

DJANGO_MIGRATION = """\
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="Note",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("title", models.CharField(max_length=200)),
                ("created", models.DateTimeField(auto_now_add=True)),
            ],
        ),
    ]
"""

DJANGO_TEMPLATE = """\
{{% load static %}}<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{name}</title>
  <link rel="stylesheet" href="{{% static '{label}/style.css' %}}">
</head>
<body>
  <h1>{name}</h1>
  <p>A Django app served by the gateway under <code>{prefix}</code>.
     Manage notes in the <a href="{{{{ admin_url }}}}">admin</a>.</p>
  <ul>
  {{% for note in notes %}}<li>{{{{ note.title }}}}</li>{{% empty %}}<li>No notes yet.</li>{{% endfor %}}
  </ul>
</body>
</html>
"""

DJANGO_CSS = "body {{ font-family: sans-serif; margin: 2rem; }}\n"

TEMPLATES: dict[str, dict[str, str]] = {
    "django": {
        "urls.py": DJANGO_URLS,
        "views.py": DJANGO_VIEWS,
        "models.py": DJANGO_MODELS,
        "admin.py": DJANGO_ADMIN,
        "migrations/__init__.py": "",
        "migrations/0001_initial.py": DJANGO_MIGRATION,
        "templates/{label}/index.html": DJANGO_TEMPLATE,
        "static/{label}/style.css": DJANGO_CSS,
    },
    "fastapi": {"app.py": FASTAPI},
    "flask": {"app.py": FLASK},
    "functions": {"app.py": FUNCTIONS},
}

MANIFEST = "framework: {framework}\nprefix: {prefix}\nenabled: true\n"


def frameworks() -> list[str]:
    """The frameworks ``gateway new`` can write a skeleton for."""
    return sorted(TEMPLATES)


def write_skeleton(name: str, framework: str, directory: Path) -> Path:
    """Write ``directory/name`` for ``framework``; refuse to touch an existing folder."""
    validate_name(name)
    if framework not in TEMPLATES:
        raise GatewayError(
            f"unknown framework {framework!r} (expected one of: {', '.join(frameworks())})"
        )
    if directory.exists() and not directory.is_dir():
        raise GatewayError(f"{directory} is not a folder (expected the plugins folder)")
    folder = directory / name
    if folder.exists():
        raise GatewayError(f"{folder} already exists; choose another name or remove it")
    prefix = f"/{name}"
    label = name.replace("-", "_")  # Django app labels are identifiers
    files = {"plugin.yaml": MANIFEST, **TEMPLATES[framework]}
    values = {"name": name, "prefix": prefix, "framework": framework, "label": label}
    # Write into a staging folder the watcher ignores (a leading dot), then rename: the
    # gateway never sees a half-written plugin. A unique name, so a staging folder left
    # behind by an interrupted run is not in the way.
    try:
        directory.mkdir(parents=True, exist_ok=True)
        staging = directory / f".{name}.{secrets.token_hex(4)}.tmp"
        staging.mkdir()
    except OSError as exc:
        raise GatewayError(f"cannot write into {directory}: {exc.strerror or exc}") from None
    try:
        for relative, text in files.items():
            target = staging / relative.format(**values)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text.format(**values), encoding="utf-8")
        staging.rename(folder)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise GatewayError(f"cannot write {folder}: {exc.strerror or exc}") from None
    return folder
