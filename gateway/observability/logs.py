"""How the gateway's process logs: one line per event on stderr."""

from __future__ import annotations

import logging


def configure_logging() -> None:
    """One line per event on stderr, for the gateway's own loggers and uvicorn's."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    # watchfiles logs every batch of events at INFO; the gateway logs what it does with them.
    logging.getLogger("watchfiles").setLevel(logging.WARNING)
