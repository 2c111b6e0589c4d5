"""``wsgi.input`` reads like ``io.BytesIO`` whatever the ASGI messages' boundaries are.

The reader runs in this (the "pool") thread; the messages come from an event loop in
another thread, as in the gateway. Each body is cut into messages in several ways (lines
straddling messages, one byte per message, some messages empty) and part of it may have
been received before the app started (``prefetched``).
"""

from __future__ import annotations

import asyncio
import io
import itertools
import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from test_wsgi_pep3333 import lines_body, readers

from gateway.wsgi import ClientDisconnected, WSGIInput


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def make_input(
    loop: asyncio.AbstractEventLoop, parts: list[bytes], prefetched: int = 0
) -> WSGIInput:
    """A ``WSGIInput`` whose first ``prefetched`` parts were received before the app ran."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts or [b""])
    ]
    prefetched = max(1, min(prefetched, len(messages)))
    first = b"".join(m["body"] for m in messages[:prefetched])
    more = bool(messages[prefetched - 1]["more_body"])
    rest = iter(messages[prefetched:])

    async def receive() -> dict[str, Any]:
        return next(rest, {"type": "http.disconnect"})

    return WSGIInput(first, more, loop, receive)


def cut(body: bytes, how: str, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    if how == "whole":
        return [body]
    if how == "bytes":
        return [body[i : i + 1] for i in range(len(body))]
    if how == "at-newlines":  # just before and just after each newline
        cuts = sorted({i + d for i, c in enumerate(body) if c == 10 for d in (0, 1)})
    else:  # "random", with empty messages among them
        count = min(len(body) // 50, 300) + 3
        cuts = sorted(rng.randrange(len(body) + 1) for _ in range(count))
    edges = [0, *cuts, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(edges)]


SMALL = [b"", b"x", b"\n", b"\n\n", b"a\nbb\nccc", b"a\nbb\nccc\n", b"\r\n\r\nlast"]
BIG = lines_body(3 << 20, seed=2) + b"\n" + b"z" * (1 << 20) * 2 + b"\nend"


@pytest.mark.parametrize("mode", readers.MODES)
@pytest.mark.parametrize("how", ["whole", "bytes", "at-newlines", "random"])
def test_every_method_reads_like_bytesio(
    loop: asyncio.AbstractEventLoop, mode: str, how: str
) -> None:
    cases = [(body, n) for body in [*SMALL, lines_body(3000, seed=1)] for n in (1, 2, 7, 1000)]
    if how != "bytes":  # past every buffer, with lines longer than 1 MiB
        cases += [(BIG, 1000), (BIG, 1 << 20)]
    for body, n in cases:
        parts = cut(body, how, seed=n)
        for prefetched in (0, len(parts) // 2, len(parts)):
            expected = readers.read_with(io.BytesIO(body), mode, n)
            got = readers.read_with(make_input(loop, parts, prefetched), mode, n)
            assert got == expected, (body[:40], n, prefetched)


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("read", (0,)),
        ("read", (None,)),
        ("readline", (0,)),
        ("readline", (None,)),
        ("readlines", (0,)),
        ("readlines", (None,)),
        ("readlines", (6,)),
        ("readlines", (7,)),
    ],
)
def test_edge_arguments_as_bytesio(
    loop: asyncio.AbstractEventLoop, call: str, args: tuple[Any, ...]
) -> None:
    body = b"hello\nworld\nagain"
    got = getattr(make_input(loop, cut(body, "bytes")), call)(*args)
    assert got == getattr(io.BytesIO(body), call)(*args)


def test_a_client_leaving_mid_body_is_an_error_not_the_end(
    loop: asyncio.AbstractEventLoop,
) -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    stream = WSGIInput(b"part of it", True, loop, receive)
    with pytest.raises(ClientDisconnected):
        stream.read()
    assert stream.received
