"""Example functions plugin: plain functions, no web framework."""

from gateway import HTTPError, endpoint


@endpoint
def hello(name: str = "world") -> dict[str, str]:
    return {"message": f"hello {name}"}


@endpoint("/add", methods=["GET", "POST"])
def add(a: int, b: int) -> dict[str, int]:
    return {"sum": a + b}


@endpoint("/mean")
def mean(x: list[float]) -> dict[str, float]:
    if not x:
        raise HTTPError(400, "give at least one x")
    return {"mean": sum(x) / len(x)}


@endpoint("/upper", methods=["POST"])
async def upper(text: str, times: int = 1) -> dict[str, str]:
    return {"text": text.upper() * times}
