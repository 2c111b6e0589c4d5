from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def index(request):
    return PlainTextResponse("not the admin API")


app = Starlette(routes=[Route("/", index)])
