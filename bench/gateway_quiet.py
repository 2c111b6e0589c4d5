"""``python -m gateway run`` with uvicorn's access log off, for a gateway that predates
``--no-access-log`` (commit c83c395); the benchmarks use the flag when ``gateway run --help``
lists it.

uvicorn logs access lines when the ``uvicorn.access`` logger has handlers
(``logger.hasHandlers()``); the gateway configures the root logger at INFO and passes
``log_config=None``, so every request is formatted and written. Cutting ``uvicorn.access``
off from the root logger is exactly what ``uvicorn --no-access-log`` does.
"""

from __future__ import annotations

import logging
import sys

from gateway.cli import main

if __name__ == "__main__":
    logging.getLogger("uvicorn.access").propagate = False
    sys.exit(main(sys.argv[1:]))
