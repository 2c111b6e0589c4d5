"""A stopped gateway exits, whatever threads its plugins left running.

At exit, Python waits for every non-daemon thread, and ``concurrent.futures`` joins every
pool thread it started (``threading._register_atexit``). A WSGI request stuck in a pool
thread, an import that hangs in the loader's thread, a plugin's own non-daemon thread: any
one of them would keep a gateway that has drained and shut down alive until SIGKILL.

:func:`exit_past_leftover_threads` gives such threads a short grace to end, then names each
one still running (its plugin and ``file:line``, from its stack) and ends the process with
``os._exit``, after flushing the logs.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

from .owners import Owners

logger = logging.getLogger(__name__)

#: how long threads still running at exit get to end by themselves
EXIT_GRACE_S = 2.0


def leftover_threads() -> list[threading.Thread]:
    """The threads interpreter exit would wait for (other than the calling one)."""
    current = threading.current_thread()
    return [
        t
        for t in threading.enumerate()
        if t is not current and t is not threading.main_thread() and not t.daemon and t.is_alive()
    ]


def describe(thread: threading.Thread, owners: Owners | None) -> str:
    """``'name' of plugin x (generation 2) at /p/x/app.py:8 in loop`` (what is known)."""
    text = repr(thread.name)
    frame = sys._current_frames().get(thread.ident or 0)
    try:
        place = owners.place(frame) if owners is not None else None
    finally:
        del frame
    if place is not None:
        text += f" of {place.owner}" if place.owner is not None else ""
        text += f" at {place}"
    return text


def exit_past_leftover_threads(
    code: int, owners: Owners | None = None, grace_s: float = EXIT_GRACE_S
) -> None:
    """Return if no thread would hold up the exit after ``grace_s``; else name them and end
    the process now with ``code``."""
    deadline = time.monotonic() + grace_s
    for thread in leftover_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    threads = leftover_threads()
    if not threads:
        return
    logger.warning(
        "exiting with %d thread(s) still busy, not waiting for them: %s",
        len(threads),
        "; ".join(describe(t, owners) for t in threads),
    )
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
