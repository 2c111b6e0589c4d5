"""The admin token: configured, or generated once at start-up and handed to the operator.

Generated tokens are shown the way Jupyter shows its own, on the terminal, when there is one;
without a terminal (a container, a service manager) the token goes to a file in the data
folder that only the gateway's user can read, and the log says where, never what: container
logs end up in ``docker logs``, CloudWatch and ``kubectl logs``.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
from pathlib import Path
from typing import TextIO

from ..config import Config

logger = logging.getLogger(__name__)

TOKEN_FILE = "admin-token"


def ensure_token(config: Config, data_dir: Path, *, stream: TextIO | None = None) -> Config:
    """``config`` with an admin token: its own, or a new one announced on ``stream`` (default
    stderr) if that is a terminal, else written to ``data_dir/admin-token`` (mode 0600)."""
    if config.admin.token:
        return config
    stream = sys.stderr if stream is None else stream
    token = secrets.token_urlsafe(24)
    where = f"http://{config.server.host}:{config.server.port}{config.admin.prefix}"
    if stream.isatty():
        print(
            "\n    Admin API token (generated; set admin.token or GATEWAY_ADMIN_TOKEN to fix it):"
            f"\n        {token}\n    e.g. curl -H 'Authorization: Bearer <the token above>' "
            f"{where}/plugins\n",
            file=stream,
            flush=True,
        )
    else:
        file = write_token_file(data_dir, token)
        logger.info(
            "admin token generated and written to %s (readable by this user only); "
            "set admin.token or GATEWAY_ADMIN_TOKEN to fix it",
            file,
        )
    admin = config.admin.model_copy(update={"token": token})
    return config.model_copy(update={"admin": admin})


def write_token_file(data_dir: Path, token: str) -> Path:
    """Write ``token`` to ``data_dir/admin-token``, mode 0600 from the start (never readable
    by others, not even for a moment)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    file = data_dir / TOKEN_FILE
    temporary = data_dir / f".{TOKEN_FILE}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.replace(temporary, file)
    return file
