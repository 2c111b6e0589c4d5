"""A plugin whose import waits until ``$READY_GATE_DIR/open`` exists.

It holds the gateway's first scan open, so a test can see ``/_gateway/ready`` answer 503
before the scan is done. Without ``READY_GATE_DIR`` it does not wait.
"""

import os
import time
from pathlib import Path

if os.environ.get("READY_GATE_DIR"):
    GATE = Path(os.environ["READY_GATE_DIR"]) / "open"
    deadline = time.monotonic() + 60
    while not GATE.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{GATE} never appeared")
        time.sleep(0.02)


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"gated-import: loaded"})
