"""``gateway new NAME --framework F``: write a working plugin skeleton."""

from __future__ import annotations

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

TEMPLATES: dict[str, dict[str, str]] = {
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
    folder = directory / name
    if folder.exists():
        raise GatewayError(f"{folder} already exists; choose another name or remove it")
    prefix = f"/{name}"
    files = {"plugin.yaml": MANIFEST, **TEMPLATES[framework]}
    # Write into a staging folder the watcher ignores, then rename: the gateway never sees a
    # half-written plugin.
    staging = directory / f".{name}.tmp"
    staging.mkdir(parents=True)
    for relative, text in files.items():
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.format(name=name, prefix=prefix, framework=framework))
    staging.rename(folder)
    return folder
