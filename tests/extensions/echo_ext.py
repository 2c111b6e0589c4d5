"""A made-up framework, ``echo``, added to the gateway by an extension (tests only).

A plugin folder with ``reply.txt`` (and ``framework: echo`` in ``plugin.yaml``, or no
``app.py``) is served as an ASGI app answering every HTTP request with that file's text.
Lifecycle hooks append one line each to the file named by ``$ECHO_EVENTS``, if set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gateway import PluginError, hookimpl

FRAMEWORK = "echo"
REPLY = "reply.txt"


class EchoApp:
    """Answers every request with ``text``; speaks the lifespan protocol."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"EchoApp({self.text!r})"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = self.text.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"x-echo-root-path", scope.get("root_path", "").encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def record(event: str) -> None:
    if path := os.environ.get("ECHO_EVENTS"):
        with Path(path).open("a", encoding="utf-8") as f:
            f.write(event + "\n")


@hookimpl
def gateway_frameworks() -> list[str]:
    return [FRAMEWORK]


@hookimpl
def gateway_recognise_folder(folder: Path) -> str | None:
    return FRAMEWORK if (folder / REPLY).is_file() else None


@hookimpl
def gateway_load_app(source: Any, framework: str) -> object | None:
    if framework != FRAMEWORK:
        return None
    file = source.folder / REPLY
    try:
        return file.read_text(encoding="utf-8")
    except OSError:
        raise PluginError(
            f"an echo plugin needs {REPLY}", plugin=source.name, file=file, kind="EchoError"
        ) from None


@hookimpl
def gateway_adapt_app(app: object, framework: str, source: Any) -> Any:
    return EchoApp(str(app)) if framework == FRAMEWORK else None


@hookimpl
def gateway_describe_routes(app: object, framework: str) -> list[str] | None:
    return ["GET /{anything} (echoes reply.txt)"] if framework == FRAMEWORK else None


@hookimpl
def gateway_started(gateway: Any) -> None:
    record("started")


@hookimpl
def gateway_stopped(gateway: Any) -> None:
    record("stopped")


@hookimpl
def gateway_plugin_loaded(plugin: Any, gateway: Any) -> None:
    record(f"loaded {plugin.name} {plugin.generation} {plugin.framework}")


@hookimpl
def gateway_plugin_failed(plugin: Any, gateway: Any) -> None:
    record(f"failed {plugin.name} {plugin.error['type']}")


@hookimpl
def gateway_plugin_unloaded(plugin: Any, gateway: Any) -> None:
    record(f"unloaded {plugin.name}")
