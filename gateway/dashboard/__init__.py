"""The dashboard page at the admin prefix's root (``GET /_gateway/``, CONTRACT section 15),
and the API documentation page beside it (``GET /_gateway/docs``, which reads the merged
``openapi.json``; :func:`standalone_docs_page` is the same page for a functions plugin).

The page and its assets are the one part of the admin app served without the token: they
hold no data. The page asks for the token, keeps it in the tab's ``sessionStorage`` and
fetches everything it shows from the admin API with it (``static/dashboard.js``).

The assets are a fixed handful of package-data files, served by explicit routes rather than
Starlette's ``StaticFiles``: the admin's auth middleware exempts exactly :data:`PUBLIC_PATHS`,
so no other path under the admin prefix can become public by adding a file, and each answer
carries the strict Content-Security-Policy below (everything from the gateway itself, no
inline script or style, no ``innerHTML`` sink thanks to Trusted Types).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

__all__ = ["CONTENT_SECURITY_POLICY", "PUBLIC_PATHS", "dashboard_routes", "standalone_docs_page"]

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        # The token form is handled by script; if the script is missing, a native submit
        # must not put the token in a URL.
        "form-action 'none'",
        "frame-ancestors 'none'",
        # Assigning a string to innerHTML (or any other HTML sink) throws: data is rendered
        # with textContent only.
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ]
)

#: route path (relative to the admin prefix) -> (file in ``static/``, media type)
_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
    "/metrics.js": ("metrics.js", "text/javascript; charset=utf-8"),
    "/dashboard.css": ("dashboard.css", "text/css; charset=utf-8"),
    "/favicon.svg": ("favicon.svg", "image/svg+xml"),
    # the page holds no data: it asks for the token, then fetches openapi.json with it
    "/docs": ("docs.html", "text/html; charset=utf-8"),
    "/docs.js": ("docs.js", "text/javascript; charset=utf-8"),
}

#: the paths under the admin prefix that need no token
PUBLIC_PATHS = frozenset(_FILES)

_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate after an upgrade of the gateway instead of mixing old and new files.
    "Cache-Control": "no-cache",
}


def dashboard_routes() -> list[BaseRoute]:
    """The routes serving the page and its assets, to mount at the admin prefix's root.

    The files are read once, here: they are package data and never change while running.
    ``/_gateway`` without the slash is redirected to ``/_gateway/`` by Starlette's router
    (``redirect_slashes``), so the page's relative asset URLs resolve under the prefix.
    """
    static = resources.files(__name__) / "static"
    routes: list[BaseRoute] = []
    for path, (filename, media_type) in _FILES.items():
        body = (static / filename).read_bytes()
        routes.append(Route(path, _endpoint(body, media_type), methods=["GET", "HEAD"]))
    return routes


def _endpoint(body: bytes, media_type: str) -> Callable[[Request], Awaitable[Response]]:
    async def serve(request: Request) -> Response:
        return Response(body, media_type=media_type, headers=_HEADERS)

    return serve


def standalone_docs_page(title: str) -> tuple[bytes, dict[str, str]]:
    """The docs page as one file, its script inline (allowed by its hash in the CSP), for a
    plugin to serve at ``<prefix>/docs`` beside its ``openapi.json``: a plugin's URL space
    is its own, so the page cannot count on ``docs.js`` being served next to it."""
    import html

    script = (resources.files(__name__) / "static" / "docs.js").read_text()
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    page = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # no favicon request into the plugin's URL space
        '<link rel="icon" href="data:,">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n"
        '<main id="docs" class="docs"></main>\n'
        f"<script>{script}</script>\n</body>\n</html>\n"
    )
    policy = CONTENT_SECURITY_POLICY.replace(
        "script-src 'self'", f"script-src 'sha256-{digest}'"
    ).replace("img-src 'self'", "img-src 'self' data:")
    return page.encode(), {**_HEADERS, "Content-Security-Policy": policy}
