import os

from gateway import endpoint


@endpoint
def hello(name: str = "world") -> dict[str, object]:
    return {"message": f"hello {name}", "pid": os.getpid()}
