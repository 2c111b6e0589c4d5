"""Header limits at the door: uvicorn's httptools protocol, counting header bytes as they come
(and giving each request's head a deadline, ``server.header_timeout_s``: see below).

uvicorn's httptools protocol sets no limit on a request's head: httptools (``parser.pyx``)
keeps appending a header value that does not end (``_current_header_value += val``), so one
connection sending 300 MB of unterminated header grows the process by as much, and an 8 MB
header line or 10,000 header fields reach the app. uvicorn's h11 protocol has
``h11_max_incomplete_event_size``; for httptools uvicorn offers nothing
(https://github.com/Kludex/uvicorn/issues/157), and a check on the parsed headers would come
after the damage (https://github.com/Kludex/uvicorn/pull/1683).

:class:`DoorProtocol` looks at the bytes of a request's head *before* httptools buffers them:
it counts the length of the line being received and the number of lines, and as soon as a
header line is longer than ``limits.max_header_bytes`` or there are more than
``limits.max_headers`` header fields it answers 431 (414 for an over-long request line, as
nginx and Apache do) and closes the connection. A head is never held in memory beyond one
line of the limit plus one read from the socket.

The common case stays cheap: when a read holds a whole head shorter than one line's limit
(almost every request), two C-level scans (``find`` and ``count``) decide, and the data goes
to the parser in one piece as before. Only a longer head is walked line by line.

Pipelining: after a request with a body, the parser may start the next request inside the
same read. Those bytes reach the parser uncounted; they are at most one read (256 KiB with
uvloop), and counting resumes with the next read, so memory stays bounded.

The limits are the gateway's (``config.yaml`` ``limits:``): no plugin is known yet at the
door. The :class:`Door` (limits and counts) reaches the protocol through the ASGI lifespan
state, which uvicorn hands to every protocol it creates, in every worker process; the first
connection moves it to the server's state, so requests' scopes do not carry it.

It relies on uvicorn's protocol internals (``cycle``, ``cycle.more_body``,
``server_state.default_headers``, ``app_state``), checked against uvicorn 0.54;
``tests/test_containment_protocol.py`` drives the real class, so an upgrade that changes
them fails there.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from ..config import LimitsConfig

logger = logging.getLogger(__name__)

#: the key under which the gateway puts its :class:`Door` in the lifespan state
DOOR_STATE_KEY = "gateway.door"

_REASONS = {
    408: b"Request Timeout",
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
}


@dataclass
class Door:
    """The limits the door enforces, and how many requests it refused (for the metrics)."""

    max_line: int
    max_fields: int
    #: seconds a request's head may take to arrive, and an idle new connection may wait for
    #: its first byte (``server.header_timeout_s``); None: no limit
    head_timeout: float | None = None
    #: requests refused with 431 (header line too long, or too many fields)
    refused_headers: int = 0
    #: requests refused with 414 (request line too long)
    refused_request_line: int = 0
    #: requests refused with 408 (head not complete in time)
    timed_out_heads: int = 0

    @classmethod
    def from_limits(cls, limits: LimitsConfig, head_timeout: float | None = None) -> Door:
        return cls(
            max_line=limits.max_header_bytes,
            max_fields=limits.max_headers,
            head_timeout=head_timeout,
        )


class DoorProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the gateway's header limits, enforced on raw bytes.

    Pass the class as ``uvicorn.Config(http=DoorProtocol)``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._door = _door_of(self.server_state, self.app_state)
        self._max_line = self._door.max_line
        self._max_fields = self._door.max_fields
        self._line = 0  # bytes of the current, unfinished head line
        self._lines = 0  # complete lines of the current head (the request line included)
        self._refused = False
        self._head_timeout = self._door.head_timeout
        #: the parser is inside a request's head (between message begin and headers complete)
        self._head_open = False
        self._head_timer: asyncio.TimerHandle | None = None

    # --- the head's deadline (slowloris) ---------------------------------------------------
    #
    # uvicorn bounds the idle time between two requests (timeout_keep_alive), but nothing
    # bounds a head that arrives a byte at a time, nor a new connection that sends nothing
    # (https://github.com/Kludex/uvicorn/issues/157, "--timeout-request-start", never done):
    # one client could hold thousands of connections open that way. A timer runs while a
    # head is incomplete: armed when a connection opens and when a read leaves a head
    # unfinished (never for a head that arrives in one read, the usual case), cancelled when
    # the parser has the whole head.

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self._head_timeout is not None:
            self._head_timer = self.loop.call_later(self._head_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        self._head_open = True
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._head_open = False
        if self._head_timer is not None:
            self._cancel_head_timer()
        super().on_headers_complete()

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._refused or self.transport.is_closing():
            return
        if not self._head_open and self._lines == 0 and self._line == 0:
            self.transport.close()  # nothing of a request came: closed, as when idle
            return
        self._door.timed_out_heads += 1
        self._refuse(
            408,
            f"request head not complete within {self._head_timeout:g}s (server.header_timeout_s)",
        )

    # --- the header limits -------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._lines == 0 and self._line == 0:  # not in the middle of a head
            # Fast path: a whole head in this read, shorter than one line's limit, so no line
            # can be too long; its fields are counted in C.
            end = data.find(b"\r\n\r\n")
            if 0 <= end < self._max_line and data.count(b"\n", 0, end) <= self._max_fields:
                super().data_received(data)
                if self._head_open:  # a pipelined head begun in this read
                    self._arm_head_timer()
                return
            # Body bytes: the parser frames them, there is nothing to count. (The cycle of
            # the latest head waits for more body until its message is complete.)
            cycle = self.cycle
            if cycle is not None and cycle.more_body:
                super().data_received(data)
                if self._head_open:
                    self._arm_head_timer()
                return
        self._received_head(data)
        if self._head_open:
            self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        """A read left a head unfinished: it has ``head_timeout`` from now to complete."""
        if (
            self._head_timer is None
            and self._head_timeout is not None
            and not self._refused
            and not self.transport.is_closing()
        ):
            self._head_timer = self.loop.call_later(self._head_timeout, self._head_timed_out)

    def _received_head(self, data: bytes) -> None:
        """Count ``data``, which starts inside a head, line by line; hand the parser each
        head once its end is seen (or the read once it is all counted), and refuse the
        request as soon as a limit is passed, before the parser sees the bytes."""
        fed = pos = 0  # data[:fed] went to the parser; data[:pos] is counted
        size = len(data)
        # A line may end in "\r\n": its content is one byte shorter than what is counted.
        max_counted = self._max_line + 1
        while pos < size:
            newline = data.find(b"\n", pos)
            if newline < 0:
                self._line += size - pos
                if self._line > max_counted:
                    self._refuse_line(first=self._lines == 0)
                    return
                break
            length = self._line + newline - pos  # the line, its "\r" included
            self._line = 0
            pos = newline + 1
            if length > 1:
                self._lines += 1
                if length > max_counted:
                    self._refuse_line(first=self._lines == 1)
                    return
                if self._lines - 1 > self._max_fields:
                    self._refuse(
                        431, f"more than {self._max_fields} header fields (limits.max_headers)"
                    )
                    return
                continue
            if self._lines == 0:
                continue  # a blank line before a request line (RFC 9112 allows it)
            # An empty line: the end of the head. The parser gets it; what follows is the
            # body, or (no body) the next request's head, counted as a head again.
            before = self.cycle
            super().data_received(data[fed:pos])
            fed = pos
            if self._refused or self.transport.is_closing() or self._upgraded():
                return
            if self.cycle is not before:  # the parser saw the head end too: a new request
                self._lines = 0
                if self.cycle.more_body:
                    break  # its body follows
        if fed < size:
            super().data_received(data[fed:] if fed else data)

    def _upgraded(self) -> bool:
        return self.transport.get_protocol() is not self

    def _refuse_line(self, *, first: bool) -> None:
        limit = self._max_line
        if first:
            self._refuse(414, f"request line longer than {limit} bytes (limits.max_header_bytes)")
        else:
            self._refuse(431, f"header line longer than {limit} bytes (limits.max_header_bytes)")

    def _refuse(self, status: int, detail: str) -> None:
        """Answer ``status`` and close the connection; the head never reaches the parser."""
        self._refused = True
        self._cancel_head_timer()
        door = self._door
        if status == 414:
            door.refused_request_line += 1
        else:
            door.refused_headers += 1
        logger.info("refused a request from %s: %d %s", _client(self.client), status, detail)
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request is still being answered: an answer now would be mixed
            # into its response.
            self.transport.close()
            return
        body = json.dumps({"detail": detail}).encode()
        head = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])]
        head.extend(
            b"%s: %s\r\n" % (name, value) for name, value in self.server_state.default_headers
        )
        head.append(
            b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
            % len(body)
        )
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def _door_of(server_state: ServerState, app_state: dict[str, Any]) -> Door:
    """The gateway's :class:`Door`: from the lifespan state the first time, then kept on the
    server's state (taken out of the lifespan state, which every request's scope copies)."""
    door = getattr(server_state, "gateway_door", None)
    if isinstance(door, Door):
        return door
    door = app_state.pop(DOOR_STATE_KEY, None)
    if not isinstance(door, Door):  # served by something else than the gateway's lifespan
        door = Door.from_limits(LimitsConfig())
    server_state.gateway_door = door  # type: ignore[attr-defined]
    return door


def _client(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "a client"
