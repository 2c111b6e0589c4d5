"""A Starlette app building its URLs the usual ways: url_for (routes, a Mount, StaticFiles),
base_url and a redirect built from url_for."""

from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles


async def index(request):
    return JSONResponse(
        {
            "static": str(request.url_for("static", path="site.css")),
            "page": str(request.url_for("page", slug="hello")),
            "nested": str(request.url_for("api:ping")),
            "base_url": str(request.base_url),
        }
    )


async def page(request):
    return JSONResponse({"slug": request.path_params["slug"]})


async def go(request):
    return RedirectResponse(request.url_for("page", slug="there"))


async def ping(request):
    return JSONResponse({"ping": str(request.url_for("api:ping"))})


app = Starlette(
    routes=[
        Route("/", index),
        Route("/pages/{slug}", page, name="page"),
        Route("/go", go),
        Mount("/api", routes=[Route("/ping", ping, name="ping")], name="api"),
        Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
    ]
)
