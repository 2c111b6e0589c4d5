"""The dashboard's files as the admin app serves them: public (the one exception to the admin
token), with a strict Content-Security-Policy, and referring to nothing outside the gateway.
The page's behaviour in a browser is in ``test_e2e_dashboard.py``."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from gateway import dashboard
from gateway.app import Gateway
from gateway.config import AdminConfig, Config, PluginsConfig

STATIC = Path(dashboard.__file__).parent / "static"
ASSETS = {
    "/_gateway/": "text/html",
    "/_gateway/dashboard.js": "text/javascript",
    "/_gateway/metrics.js": "text/javascript",
    "/_gateway/dashboard.css": "text/css",
    "/_gateway/favicon.svg": "image/svg+xml",
}


Get = Callable[..., httpx.Response]


def gateway_get(tmp_path: Path, admin_prefix: str = "/_gateway") -> tuple[Gateway, Get]:
    """GET from a gateway in this process (no plugins, not started: the admin app is all)."""
    admin = AdminConfig(prefix=admin_prefix, token="t0ken")
    gateway = Gateway(Config(plugins=PluginsConfig(dir=tmp_path), admin=admin), cwd=tmp_path)
    gateway.ready = True  # as after its first scan: an unknown path is a 404, not a 503

    async def fetch(path: str, headers: dict[str, str] | None) -> httpx.Response:
        transport = httpx.ASGITransport(app=gateway)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get(path, headers=headers)

    return gateway, lambda path, headers=None: asyncio.run(fetch(path, headers))


@pytest.fixture
def get(tmp_path: Path) -> Iterator[Get]:
    gateway, get = gateway_get(tmp_path)
    yield get
    gateway.executor.shutdown()


@pytest.mark.parametrize(("path", "media_type"), ASSETS.items())
def test_page_and_assets_are_served_without_a_token(get: Get, path: str, media_type: str) -> None:
    response = get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["x-content-type-options"] == "nosniff"
    csp = response.headers["content-security-policy"]
    assert csp == dashboard.CONTENT_SECURITY_POLICY
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    for directive in ("script-src", "style-src", "img-src", "connect-src"):
        assert directives[directive] == "'self'", directive
    assert directives["frame-ancestors"] == "'none'"
    assert directives["require-trusted-types-for"] == "'script'"


def test_the_admin_prefix_without_slash_redirects_to_the_page(get: Get) -> None:
    response = get("/_gateway")
    assert response.status_code in (307, 308)
    assert response.headers["location"].endswith("/_gateway/")


def test_the_api_still_needs_the_token(get: Get) -> None:
    assert get("/_gateway/plugins").status_code == 401
    authorized = get("/_gateway/plugins", {"Authorization": "Bearer t0ken"})
    assert authorized.status_code == 200
    assert authorized.json() == {"plugins": []}


def test_the_page_follows_a_configured_admin_prefix(tmp_path: Path) -> None:
    gateway, get = gateway_get(tmp_path, "/ops/admin")
    try:
        assert get("/ops/admin/").status_code == 200
        assert get("/ops/admin/dashboard.js").status_code == 200
        assert get("/ops/admin/plugins").status_code == 401
        assert get("/_gateway/").status_code == 404
    finally:
        gateway.executor.shutdown()


@pytest.mark.parametrize(
    "path", ["/_gateway/index.html", "/_gateway/static/index.html", "/_gateway/other.js"]
)
def test_only_the_listed_files_are_public(get: Get, path: str) -> None:
    assert get(path).status_code == 401


def test_the_page_refers_to_nothing_outside_the_gateway() -> None:
    """The browser test records every request; this also catches a reference it may not
    trigger (a stylesheet ``url()``, a lazily imported module)."""
    html = (STATIC / "index.html").read_text()
    css = (STATIC / "dashboard.css").read_text()
    references = re.findall(r'(?:src|href)="([^"]*)"', html) + re.findall(r"url\(([^)]*)\)", css)
    assert references, "no reference found: the pattern is wrong"
    assert [ref for ref in references if re.match(r"^(?:[a-z][a-z0-9+.-]*:|//)", ref)] == []
    assert "@import" not in css
    assert "<script>" not in html and " style=" not in html  # nothing inline (CSP)
    for script in ("dashboard.js", "metrics.js"):
        code = (STATIC / script).read_text()
        modules = re.findall(r'(?:from|import\()\s*"([^"]+)"', code)
        assert all(module.startswith("./") for module in modules), modules
        assert "innerHTML" not in code and "insertAdjacentHTML" not in code
        assert "document.write" not in code
