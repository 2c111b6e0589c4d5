import six

from gateway import endpoint


@endpoint
def version() -> dict[str, str]:
    return {"six": six.__version__, "file": six.__file__}
