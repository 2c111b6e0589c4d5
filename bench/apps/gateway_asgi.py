"""The gateway's root app built by hand and served by the uvicorn command line, with the
same uvicorn flags as every other uvicorn run: separates the gateway's dispatch from how
``gateway run`` configures uvicorn. ``BENCH_PLUGINS`` is the plugins folder."""

import os

from gateway import Gateway
from gateway.config import Config

app = Gateway(
    Config.model_validate(
        {
            "plugins": {"dir": os.environ["BENCH_PLUGINS"], "watch": False},
            "admin": {"token": "bench-token-0123456789"},
        }
    )
)
