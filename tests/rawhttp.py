"""What the containment tests need below httpx: raw requests on a socket (bytes an HTTP client
would never send), and the gateway process's memory, read from /proc."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType


def rss_mb(pid: int) -> float:
    """The resident memory of process ``pid``, in MiB (``VmRSS`` of /proc/<pid>/status)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


class PeakRSS:
    """The highest RSS of a process while the ``with`` block runs (sampled every 10 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = rss_mb(pid)
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_mb(self.pid))

    @property
    def growth(self) -> float:
        return self.peak - self.before

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.pid))


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def send(sock: socket.socket, data: bytes) -> bool:
    """Send ``data``; False if the server closed the connection first."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        return False
    return True


def recv_chunk(sock: socket.socket) -> bytes:
    """One ``recv``; ``b""`` when the server has closed or reset the connection, or when
    the socket's timeout passes."""
    try:
        return sock.recv(65536)
    except (ConnectionResetError, TimeoutError):
        return b""


def _read_until(
    sock: socket.socket, timeout: float, done: Callable[[bytes], bool] = lambda reply: False
) -> bytes:
    """What the server sends until ``done(reply)``, the connection ends, or ``timeout``."""
    sock.settimeout(timeout)
    reply = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not done(reply):
        chunk = recv_chunk(sock)
        if not chunk:
            break
        reply += chunk
    return reply


def read_all(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection (a reset ends it too)."""
    return _read_until(sock, timeout)


def read_response(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """One response: its head, then as many body bytes as its ``Content-Length`` says (a
    server may write head and body in separate segments: one ``recv`` can end between)."""

    def complete(reply: bytes) -> bool:
        _, found, body = reply.partition(b"\r\n\r\n")
        length = header(reply, b"content-length") if found else None
        return bool(found) and (length is None or len(body) >= int(length))

    return _read_until(sock, timeout, complete)


def exchange(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    """Send ``request`` on a new connection and return all the server answers."""
    with connect(port, timeout) as sock:
        send(sock, request)
        return read_all(sock, timeout)


def status(reply: bytes) -> int | None:
    """The status code of a raw HTTP/1.1 reply (None for no reply)."""
    if not reply.startswith(b"HTTP/1.1 "):
        return None
    return int(reply[9:12])


def header(reply: bytes, name: bytes) -> bytes | None:
    """A response header of a raw reply, by lower-case name."""
    head = reply.partition(b"\r\n\r\n")[0]
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None
