"""The admin API under the admin prefix (default ``/_gateway``): :func:`build_admin_app`,
authenticated by :class:`BearerAuth` with the token of :func:`ensure_token`."""

from __future__ import annotations

from .api import build_admin_app
from .auth import BearerAuth
from .token import ensure_token

__all__ = ["BearerAuth", "build_admin_app", "ensure_token"]
