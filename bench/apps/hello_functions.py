"""The hello app as a ``functions`` plugin (copied as the plugin's app.py)."""

from gateway import endpoint


@endpoint("/")
async def hello() -> dict[str, str]:
    return {"message": "hello"}
