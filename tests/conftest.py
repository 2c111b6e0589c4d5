"""Shared fixtures: a real gateway process (uvicorn on a free port) on a temporary plugins
folder, talked to over HTTP. The process harness and the polling helper are
:mod:`gateway.testing`, shared with the benchmarks (no test sleeps for a fixed time)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from gateway.testing import GatewayProcess, free_port, wait_for

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "plugins"
EXAMPLES = REPO / "plugins"
TOKEN = "test-token-0123456789"

__all__ = [
    "EXAMPLES",
    "FIXTURES",
    "REPO",
    "TOKEN",
    "GatewayProcess",
    "admin_login",
    "copy_plugin",
    "csrf_token",
    "free_port",
    "launch_gateway",
    "wait_for",
]


def copy_plugin(source: Path, plugins_dir: Path, name: str | None = None) -> Path:
    target = plugins_dir / (name or source.name)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def csrf_token(page: httpx.Response) -> str:
    """The CSRF token of a Django form page."""
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


def admin_login(browser: httpx.Client, prefix: str, username: str, password: str) -> httpx.Response:
    """Log in to the Django admin under ``prefix`` as a browser does (the form, its CSRF
    token and cookie, the post); the answer is a 302 to the admin on success."""
    page = browser.get(f"{prefix}/admin/login/", params={"next": f"{prefix}/admin/"})
    assert page.status_code == 200, page.text[:500]
    form = {
        "username": username,
        "password": password,
        "next": f"{prefix}/admin/",
        "csrfmiddlewaretoken": csrf_token(page),
    }
    return browser.post(
        f"{prefix}/admin/login/?next={prefix}/admin/",
        data=form,
        headers={"Origin": str(browser.base_url).rstrip("/")},
    )


def assert_serving(gateway: GatewayProcess, *names: str) -> None:
    """Fail (and stop ``gateway``) unless each plugin of ``names`` serves, saying why it
    does not: a third-party app that is not installed shows as its ImportError, not as a
    page of 404s."""
    for name in names:
        info = gateway.plugin(name)
        if info["status"] != "active":
            gateway.stop()
            pytest.fail(f"plugin {name} is {info['status']}: {info['error']}", pytrace=False)


def launch_gateway(
    workdir: Path,
    *plugins: Path | str,
    args: list[str] | None = None,
    env: dict[str, str] | None = None,
    token: str | None = TOKEN,
    wait: bool = True,
) -> GatewayProcess:
    """Copy ``plugins`` into ``workdir/plugins`` and start a gateway on it there.

    For module-scoped fixtures (one gateway shared by a test module); the caller stops it.
    """
    plugins_dir = workdir / "plugins"
    plugins_dir.mkdir(exist_ok=True)
    for plugin in plugins:
        source = plugin if isinstance(plugin, Path) else FIXTURES / plugin
        copy_plugin(source, plugins_dir)
    gateway = GatewayProcess(workdir, plugins_dir, args or [], env or {}, token=token)
    if wait:
        try:
            gateway.wait_ready()
        except BaseException:
            gateway.stop()
            raise
    return gateway


@pytest.fixture
def start_gateway(tmp_path: Path) -> Iterator[Callable[..., GatewayProcess]]:
    """Start a gateway on ``plugins`` (fixture or example plugin folders, copied)."""
    started: list[GatewayProcess] = []

    def start(
        *plugins: Path | str,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        wait: bool = True,
    ) -> GatewayProcess:
        gateway = launch_gateway(tmp_path, *plugins, args=args, env=env, wait=wait)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()
