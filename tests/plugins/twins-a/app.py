import sys

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import views


async def index(request):
    return JSONResponse({"who": views.who(), "views_module": views.__name__,
                         "top_level_views": "views" in sys.modules})


app = Starlette(routes=[Route("/", index)])
