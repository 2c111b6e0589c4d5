"""``wsgi.input``: the request body as a binary file, read from the app's pool thread.

The first part of the body (up to the adapter's buffer size) has already been received on
the event loop when the app starts; the rest is pulled one ASGI message at a time from the
thread, so a large upload is never held in memory and the server's own flow control (uvicorn
stops reading the socket while a message waits) slows the client down.

Written here rather than taken from a2wsgi (``a2wsgi.wsgi.Body``, checked in 1.10.10 and on
its main branch), whose file methods differ from a file's in ways apps notice:

- ``readline(limit)`` returns what happens to be buffered when no newline is within it,
  even though more of the line is still to come: past the first buffered part of a large
  body it returns short pieces, or ``b""`` (which ends every ``while readline(n)`` loop
  early, about half-way through a 2 MiB body);
- ``readlines()`` adds a ``\\n`` to a last line that had none;
- ``readlines(hint)`` takes the byte-count hint for a number of lines (and ``readlines(0)``
  returns nothing);
- iteration can end with an empty line ``b""``;
- ``read(None)`` and ``readline(None)`` raise ``TypeError``;
- a client that disconnects mid-upload looks like the end of the body.

(``tests/test_wsgi_input.py`` fails 20 of its 41 cases with a2wsgi's ``Body`` in its place.)

No a2wsgi issue about these was found when this was written (the nearest,
https://github.com/abersheeran/a2wsgi/issues/42, is about ``close()``); they are worth
reporting upstream.
Semantics follow ``io.BytesIO``: ``read``/``readline`` with a negative or ``None`` size read
to the end, ``readlines(hint)`` stops once the lines read reach ``hint`` bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from ..types import Message, Receive


class ClientDisconnected(OSError):
    """The client went away before it had sent the whole request body."""


class WSGIInput:
    """The request body of one request; every read blocks the calling (pool) thread only."""

    __slots__ = ("_buffer", "_loop", "_more", "_receive")

    def __init__(
        self, body: bytes, more: bool, loop: asyncio.AbstractEventLoop, receive: Receive
    ) -> None:
        """``body`` was received already; ``more`` says whether messages are still to come."""
        self._buffer = bytearray(body)
        self._more = more
        self._loop = loop
        self._receive = receive

    def __repr__(self) -> str:
        state = "more to receive" if self._more else "all received"
        return f"<WSGIInput {len(self._buffer)} bytes buffered, {state}>"

    @property
    def received(self) -> bool:
        """Every message of the body has arrived (not necessarily been read)."""
        return not self._more

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            while self._fill():
                pass
            return self._take(len(self._buffer))
        while len(self._buffer) < size and self._fill():
            pass
        return self._take(size)

    def readline(self, size: int | None = -1) -> bytes:
        limit = -1 if size is None or size < 0 else size
        searched = 0  # the buffer before this offset holds no newline
        while True:
            buffer = self._buffer
            end = len(buffer) if limit < 0 else min(len(buffer), limit)
            newline = buffer.find(b"\n", searched, end)
            if newline >= 0:
                return self._take(newline + 1)
            if 0 <= limit <= len(buffer):
                return self._take(limit)
            searched = end
            if not self._fill():
                return self._take(len(buffer))

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        if hint is None or hint <= 0:
            return list(self)
        lines: list[bytes] = []
        total = 0
        for line in self:
            lines.append(line)
            total += len(line)
            if total >= hint:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def _take(self, size: int) -> bytes:
        buffer = self._buffer
        if size >= len(buffer):
            data = bytes(buffer)
            buffer.clear()
        else:
            data = bytes(buffer[:size])
            del buffer[:size]  # O(1) at the front of a bytearray
        return data

    def _fill(self) -> bool:
        """Receive the next message into the buffer; False once the body has all arrived."""
        if not self._more:
            return False
        future = asyncio.run_coroutine_threadsafe(_next_message(self._receive), self._loop)
        message = future.result()
        if message["type"] == "http.disconnect":
            self._more = False
            raise ClientDisconnected("the client went away before sending the whole body")
        self._buffer += message.get("body", b"")
        self._more = message.get("more_body", False)
        return True


async def _next_message(receive: Receive) -> Message:
    return await receive()
