"""Process isolation (``isolation: process``, contract section 14): a plugin served by
worker processes of its own, supervised by the gateway, over a framed ASGI transport.

Modules, gateway side: :mod:`.supervisor` (:class:`IsolatedPlugin`: start, restart, recycle,
stop), :mod:`.process` (one worker process), :mod:`.proxy` (the mounted ASGI app),
:mod:`.channel` (relaying requests over a worker's socket), :mod:`.venv` (per-plugin
virtualenvs). Worker side: :mod:`.worker` (entry point), :mod:`.host` (loading the plugin),
:mod:`.appserver` (running its app). Both: :mod:`.transport` (the frames), :mod:`.spec`.
``gateway manage`` for an isolated plugin: :mod:`.manage` (a process set up as its worker).
"""

from __future__ import annotations

from .spec import WorkerSpec
from .supervisor import ACTIVE, RESTARTING, IsolatedPlugin

__all__ = ["ACTIVE", "RESTARTING", "IsolatedPlugin", "WorkerSpec"]
