"""The framing between the gateway and a worker process: ASGI messages over one Unix socket.

Why not HTTP between them: a second HTTP hop makes the worker parse every request again and
the gateway parse every response again, which costs more than the app itself for small
requests (``docs/ISOLATION.md`` has the numbers). ASGI is already a message protocol, so the
gateway sends the worker the request's *scope* and its *receive* messages, and the worker
sends back the messages the app *sends*; the worker runs the app directly.

A frame is a 9-byte header, ``<IBI`` (payload length, kind, stream id), then the payload.
Every request is a stream with its own id, multiplexed over the one connection of each worker
(a ``socketpair``, so there is no path on disk and the worker sees EOF the moment the gateway
is gone). Messages are serialised with :mod:`marshal`: ASGI messages hold only ``str``,
``bytes``, ``int``, ``bool``, ``None``, lists, tuples and dicts, which marshal encodes and
decodes several times faster than JSON or pickle, and both ends run the same Python version
(the worker's virtualenv is built from the gateway's interpreter). The common messages have
compact forms, since every microsecond here is paid per request on the gateway's one core:
the scope goes positionally, body chunks go as raw bytes, a response's start travels with its
first body chunk, and a response that completed needs no ``END``.

Writes are corked: frames queued during one pass of the event loop leave in one ``write``,
so a response's start, body and end usually cross in one system call.

Flow control, so neither end buffers without bound:

- request bodies and WebSocket messages are *pulled*: the worker sends ``WANT`` when its app
  waits in ``receive()`` with nothing queued (or just got a message that says more follows),
  and the gateway answers with one ``MSG``; at most one is in flight per stream;
- response bodies are *credited*: the worker may have :data:`WINDOW` bytes not yet written to
  the client; the gateway returns ``CREDIT`` as it writes them.
"""

from __future__ import annotations

import asyncio
import marshal
import operator
import struct
from collections.abc import Mapping, MutableMapping
from typing import Any

HEADER = struct.Struct("<IBI")
CREDIT_AMOUNT = struct.Struct("<Q")

# gateway -> worker
REQUEST = 1  # encode_request(scope, first receive message): opens a stream
CANCEL = 2  # stop the stream's app (request timeout)
GONE = 3  # the client went away while the app was sending
SHUTDOWN = 4  # stream 0: finish in-flight requests (marshal(drain seconds)), then exit
CREDIT = 5  # <Q: that many more response bytes may be sent
# both ways
MSG = 6  # marshal(message dict): any message without a compact form below
BODY = 7  # raw bytes: a body chunk (http.request / http.response.body) with more_body
BODY_END = 8  # raw bytes: the last body chunk
# worker -> gateway
RESPONSE = 9  # marshal((status, headers, body, more_body)): response start and first chunk
WANT = 10  # the app waits in receive(): send the next receive message
END = 11  # the app returned with the response incomplete, or raised: marshal(error | None)
READY = 12  # stream 0: lifespan startup done; marshal({"pid", "framework", "openapi", "routes"})
FAILED = 13  # stream 0: loading failed; marshal({"kind", "message", "file", "hint"})
STALLED = 14  # stream 0, no payload: the plugin held the worker's event loop (loop_stall_ms)

#: response bytes a worker may have in flight per stream before it waits for credit
WINDOW = 1 << 20
#: bodies larger than this are cut into several frames, so credit can flow between them
MAX_CHUNK = 256 * 1024

#: the scope keys sent positionally (most of every scope: cheaper than a dict)
SCOPE_FIELDS = (
    "type",
    "http_version",
    "method",
    "scheme",
    "path",
    "raw_path",
    "query_string",
    "root_path",
    "headers",
    "client",
    "server",
    "app_root_path",
    "subprotocols",
)
#: scope keys that stay in the gateway: the lifespan state of the gateway's own root app
#: (the worker gives the app its own) and objects that cannot cross a process boundary
LOCAL_KEYS = frozenset({"state", "app", "router", "endpoint", "route", "fastapi_astack"})
_NOT_EXTRA = frozenset(SCOPE_FIELDS) | LOCAL_KEYS | {"asgi"}
_SCOPE_GETTER = operator.itemgetter(*SCOPE_FIELDS[:-2])


def dumps(value: Any) -> bytes:
    return marshal.dumps(value)


def loads(payload: bytes | memoryview) -> Any:
    return marshal.loads(payload)


def encode_request(scope: MutableMapping[str, Any], first: Mapping[str, Any]) -> bytes:
    """The ``REQUEST`` payload: the scope, and the first receive message (usually the whole
    body of a GET, so most requests take one frame). A key the scope lacks goes as ``None``
    and is left out at the other end (ASGI's optional ``client`` and ``server`` mean the same
    either way)."""
    get = scope.get
    try:
        # every key an HTTP scope always has, in one C call; the two optional ones after
        fields = (*_SCOPE_GETTER(scope), get("app_root_path"), get("subprotocols"))
        complete = True
    except KeyError:  # a WebSocket scope (no method)
        fields = tuple([get(key) for key in SCOPE_FIELDS])
        complete = False
    asgi = get("asgi")
    spec = asgi.get("spec_version") if asgi else None
    extra_keys = scope.keys() - _NOT_EXTRA
    extras = {k: scope[k] for k in extra_keys if _marshallable(scope[k])} if extra_keys else None
    if first["type"] == "http.request":
        head: Any = (first.get("body", b""), first.get("more_body", False))
    else:
        head = dict(first)
    return marshal.dumps((fields, complete, spec, extras, head))


def decode_request(payload: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    fields, complete, spec, extras, head = marshal.loads(payload)
    if complete:
        scope = dict(zip(SCOPE_FIELDS, fields))  # noqa: B905 - same length by construction
        if fields[-1] is None:
            del scope["subprotocols"]
        if fields[-2] is None:
            del scope["app_root_path"]
    else:
        scope = {k: v for k, v in zip(SCOPE_FIELDS, fields, strict=True) if v is not None}
    scope["asgi"] = {"version": "3.0", "spec_version": spec} if spec else {"version": "3.0"}
    if extras:
        scope.update(extras)
    if type(head) is tuple:
        return scope, {"type": "http.request", "body": head[0], "more_body": head[1]}
    return scope, head


def _marshallable(value: object) -> bool:
    try:
        marshal.dumps(value)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True


class FrameProtocol(asyncio.Protocol):
    """Parses frames from the socket and queues corked writes; subclasses handle frames."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._loop = asyncio.get_running_loop()
        self._closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, hence no isinstance
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        size = len(buffer)
        offset = 0
        unpack = HEADER.unpack_from
        while size - offset >= 9:
            length, kind, stream = unpack(buffer, offset)
            end = offset + 9 + length
            if end > size:
                break
            self.frame_received(kind, stream, bytes(buffer[offset + 9 : end]))
            offset = end
        if offset:
            del buffer[:offset]

    def frame_received(self, kind: int, stream: int, payload: bytes) -> None:
        raise NotImplementedError

    def write_frame(self, kind: int, stream: int, payload: bytes = b"") -> None:
        """Queue one frame; queued frames leave together at the end of this loop pass."""
        if self._closed:
            return
        self._out.append(HEADER.pack(len(payload), kind, stream))
        if payload:
            self._out.append(payload)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def flush_now(self) -> None:
        """Write what is queued now (before the process exits)."""
        self._flush()

    def _flush(self) -> None:
        self._flush_scheduled = False
        out, self._out = self._out, []
        if self.transport is not None and not self._closed and out:
            self.transport.write(b"".join(out))

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._out.clear()
