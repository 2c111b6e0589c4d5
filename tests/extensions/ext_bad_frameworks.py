"""An extension whose gateway_frameworks raises: it must be left out, not fail every plugin."""

from gateway import hookimpl


@hookimpl
def gateway_frameworks() -> list[str]:
    raise RuntimeError("misconfigured")
