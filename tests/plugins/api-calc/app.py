"""A functions plugin for the OpenAPI tests: path, query, body and list parameters, a model
returned."""

from pydantic import BaseModel

from gateway import HTTPError, endpoint


class Total(BaseModel):
    total: float
    count: int


@endpoint
def hello(name: str = "world") -> dict[str, str]:
    """Say hello.

    The name defaults to the world.
    """
    return {"message": f"hello {name}"}


@endpoint("/sum")
def add(x: list[float]) -> Total:
    """Add numbers."""
    if not x:
        raise HTTPError(400, "give at least one x")
    return Total(total=sum(x), count=len(x))


@endpoint("/items/{item_id:int}", methods=["GET", "DELETE"])
def item(item_id: int, verbose: bool = False) -> dict[str, int]:
    return {"id": item_id}


@endpoint("/upper", methods=["POST"])
async def upper(text: str, times: int = 1) -> dict[str, str]:
    return {"text": text.upper() * times}
