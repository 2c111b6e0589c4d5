"""The thread side of a WSGI request: call the app, and pass on each block as it comes.

:class:`Responder` runs in a pool thread. It implements ``start_response`` and ``write()``
as PEP 3333 has them, iterates the app's body, and puts each non-empty block on a
:class:`Channel` for the event loop, which sends whatever has been put each time it looks:
the blocks ready together go out together, so a small response costs one hand-off.

When a block is put, the loop is woken at once, so the block never waits for the next one
(streaming, SSE) -- except when no next block can come: the body is a list or tuple (all
of it is there), or the blocks so far add up to the ``Content-Length`` the app declared.
Then the wake-up comes with the end of the response, after the iterator ended and its
``close()`` returned. That is what keeps a small response at one thread hop: waking the
loop while the thread still runs Python makes the two contend for the GIL, which cost about
10 % of the throughput of a hello-world Flask plugin. The price: a complete body reaches
the client only once ``close()`` has returned, where gunicorn sends it before calling
``close()`` (Flask's ``call_on_close`` work, if slow, delays the response here).

The thread waits only when more than ``limit`` bytes are not yet handed to the server
(back-pressure: a slow client does not make it buffer the world), and stops, closing the
app's iterable, once the loop side has closed the channel (the client went away).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, NamedTuple

logger = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class Start(NamedTuple):
    """The status and headers, put on the channel just before the first non-empty block."""

    status: int
    headers: list[tuple[bytes, bytes]]


class End:
    """The last event of a response: complete, failed (``error``), or abandoned (``gone``)."""

    __slots__ = ("error", "gone")

    def __init__(self, error: BaseException | None = None, *, gone: bool = False) -> None:
        self.error = error
        self.gone = gone

    def __repr__(self) -> str:
        return f"End(error={self.error!r}, gone={self.gone})"


#: what a :class:`Channel` carries: body blocks, one ``Start`` before the first, one ``End``
Event = bytes | Start | End


class ClientGone(Exception):
    """The loop side stopped listening (the client disconnected): stop producing."""


class Channel:
    """Response events from one pool thread to the event loop, with back-pressure."""

    __slots__ = ("_events", "_lock", "_loop", "_room", "_unsent", "_waiter", "closed", "limit")

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self._loop = loop
        self.limit = limit
        self._lock = threading.Lock()
        self._room: threading.Condition | None = None  # made when the thread first waits
        self._events: list[Event] = []
        self._unsent = 0  # bytes put and not yet handed to the server
        self._waiter: asyncio.Future[None] | None = None
        #: set by the loop side: nothing put from now on reaches the client
        self.closed = False

    def __repr__(self) -> str:
        return f"<Channel {len(self._events)} events, {self._unsent} bytes unsent>"

    # --- the pool thread ---

    def put(self, *events: Event, size: int, wake: bool = True) -> None:
        """Queue ``events`` (``size`` body bytes); wait while too much is unsent.

        ``wake=False``: the loop will learn of them with the next events (the caller knows
        more are coming without delay), unless the thread has to wait for room first.
        """
        with self._lock:
            if self.closed:
                raise ClientGone
            self._events += events
            self._unsent += size
            if wake or self._unsent > self.limit:
                self._wake()
            if self._unsent > self.limit and not self.closed:
                if self._room is None:
                    self._room = threading.Condition(self._lock)
                while self._unsent > self.limit and not self.closed:
                    self._room.wait()

    def finish(self, end: End) -> None:
        """Queue the last event, whatever state the loop side is in."""
        with self._lock:
            self._events.append(end)
            self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            try:
                self._loop.call_soon_threadsafe(_set_done, waiter)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                self.closed = True

    # --- the event loop ---

    async def get(self) -> list[Event]:
        """Every event put so far, waiting for the first if there is none yet."""
        with self._lock:
            if self._events:
                events, self._events = self._events, []
                return events
            waiter = self._waiter = self._loop.create_future()
        await waiter
        with self._lock:
            events, self._events = self._events, []
            return events

    def sent(self, size: int) -> None:
        """``size`` body bytes were handed to the server: let the thread go on."""
        with self._lock:
            self._unsent -= size
            if self._room is not None and self._unsent <= self.limit:
                self._room.notify()

    def close(self) -> None:
        """Stop the thread at its next block (and release it if it waits for room)."""
        with self._lock:
            self.closed = True
            if self._room is not None:
                self._room.notify_all()


def _set_done(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Responder:
    """One request in a pool thread: ``start_response``, ``write`` and the body iteration."""

    __slots__ = (
        "app",
        "channel",
        "complete",
        "environ",
        "headers",
        "headers_sent",
        "length",
        "status",
    )

    def __init__(self, app: WSGIApp, environ: dict[str, Any], channel: Channel) -> None:
        self.app = app
        self.environ = environ
        self.channel = channel
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] | None = None
        #: a ``Start`` was put on the channel: too late to change the status
        self.headers_sent = False
        #: body bytes still to come by the app's ``Content-Length`` (-1: not declared)
        self.length = -1
        #: the body is a list or tuple: every block of it exists already
        self.complete = False

    def __repr__(self) -> str:
        return f"<Responder {self.app!r} status={self.status} sent={self.headers_sent}>"

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            if self.headers_sent:  # PEP 3333: re-raise, the response can only be aborted
                raise exc_info[1].with_traceback(exc_info[2])
        elif self.headers is not None:
            raise RuntimeError("start_response() called twice without exc_info")
        self.status = int(status.split(" ", 1)[0])
        self.headers = [
            (name.strip().lower().encode("latin-1"), value.strip().encode("latin-1"))
            for name, value in headers
        ]
        self.length = -1
        for name, value in self.headers:
            if name == b"content-length" and value.isdigit():
                self.length = int(value)
        return self.write

    def write(self, data: bytes) -> None:
        """A body block, from the iterable or the legacy ``write()`` callable: sent at once."""
        if not isinstance(data, bytes):
            raise TypeError(f"a WSGI body block must be bytes, not {type(data).__name__}")
        if self.channel.closed:
            raise ClientGone
        if not data:
            return
        size = len(data)
        if self.length >= 0:
            self.length = max(self.length - size, 0)
        # Wake the loop unless no next block can come (see the module docstring).
        wake = self.length != 0 and not self.complete
        if self.headers_sent:
            self.channel.put(data, size=size, wake=wake)
            return
        if self.headers is None:
            raise RuntimeError("the WSGI app sent a body block before calling start_response()")
        self.headers_sent = True
        self.channel.put(Start(self.status, self.headers), data, size=size, wake=wake)

    def run(self) -> None:
        """Call the app, send its body, close its iterable, then put the ``End``."""
        try:
            iterable = self.app(self.environ, self.start_response)
        except BaseException as exc:  # anything the app raises becomes a 500 or an abort
            self.channel.finish(End(exc))
            return
        end = End()
        self.complete = isinstance(iterable, (list, tuple))
        try:
            for block in iterable:
                self.write(block)
            if self.headers is None:
                raise RuntimeError("the WSGI app returned without calling start_response()")
            if not self.headers_sent:  # an empty body: the headers go out with the end
                self.headers_sent = True
                self.channel.put(Start(self.status, self.headers), size=0, wake=False)
        except ClientGone:
            end = End(gone=True)
        except BaseException as exc:
            end = End(exc)
        finally:
            # Exactly once, before the End: when the loop side is done, so is the app.
            close = getattr(iterable, "close", None)
            if close is not None:
                try:
                    close()
                except BaseException as exc:
                    if end.error is None and not end.gone:
                        end = End(exc)
                    else:  # the first error is the one reported; this one is only logged
                        logger.exception("close() of the body of WSGI app %r failed", self.app)
            self.channel.finish(end)
