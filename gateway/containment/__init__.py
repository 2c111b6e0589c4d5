"""Containment: one plugin cannot stall, starve or stop the others (contract section 13).

- :mod:`.protocol`: header limits at the door, on the raw bytes (431/414);
- :mod:`.body`, :mod:`.headers`: a plugin's body limit (413) and its own header limits (431);
- :mod:`.share`: a fair share of the shared WSGI pool per plugin;
- :mod:`.gate`: ``max_concurrency``, a FIFO queue, 503 past it;
- :mod:`.timeout`: ``request_timeout_s``, 504;
- :mod:`.stalls`, :mod:`.owners`: naming the plugin that blocks the event loop;
- :mod:`.signals`, :mod:`.exits`: SIGTERM/SIGINT always stop the gateway, SIGHUP reloads;
- :mod:`.manager`: :class:`Containment`, which puts them together for one gateway.
"""

from .counters import PluginCounters
from .exits import exit_past_leftover_threads
from .manager import Containment
from .protocol import DOOR_STATE_KEY, Door, DoorProtocol
from .signals import ForwardingSupervisor

__all__ = [
    "DOOR_STATE_KEY",
    "Containment",
    "Door",
    "DoorProtocol",
    "ForwardingSupervisor",
    "PluginCounters",
    "exit_past_leftover_threads",
]
