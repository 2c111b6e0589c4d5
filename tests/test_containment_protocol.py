"""The door's byte counting (gateway.containment.protocol), driven read by read: heads split
anywhere, pipelined requests, bodies, and exactly where the limits fall."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from gateway.config import LimitsConfig
from gateway.containment import DOOR_STATE_KEY, Door, DoorProtocol


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    reply = f"{scope['path']} {len(scope['headers'])} {len(body)}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": reply})


class Transport(asyncio.Transport):
    """What the protocol writes, and whether it closed the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False
        self.protocol: Any = None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.protocol  # type: ignore[no-any-return]


def serve(reads: list[bytes], limits: LimitsConfig | None = None) -> tuple[bytes, bool]:
    """Feed ``reads`` to a door protocol one by one; what it answered, and if it closed."""

    async def main() -> tuple[bytes, bool]:
        config = uvicorn.Config(app, http=DoorProtocol, lifespan="off", log_config=None)
        config.load()
        state = {DOOR_STATE_KEY: Door.from_limits(limits or LimitsConfig())}
        protocol = DoorProtocol(config=config, server_state=ServerState(), app_state=state)
        transport = Transport()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        for data in reads:
            protocol.data_received(data)
            for _ in range(5):  # let the app's tasks answer
                await asyncio.sleep(0)
        return transport.written, transport.closed

    return asyncio.run(main())


def statuses(written: bytes) -> list[int]:
    return [int(part[:3]) for part in written.split(b"HTTP/1.1 ")[1:]]


def get(path: str = "/", *headers: bytes) -> bytes:
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + b"".join(headers) + b"\r\n"


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


LIMITS = LimitsConfig(max_header_bytes=300, max_headers=5)


def test_a_head_split_byte_by_byte_is_served() -> None:
    written, closed = serve(bytewise(get("/a", b"X-One: 1\r\n")), LIMITS)
    assert statuses(written) == [200]
    assert b"/a 2 0" in written
    assert not closed


@pytest.mark.parametrize("split", [None, 1, 7, 64])
def test_a_header_line_over_the_limit_is_431_wherever_the_reads_split_it(
    split: int | None,
) -> None:
    # "X-Long: " + value is 301 bytes: one over the limit of 300.
    request = get("/", b"X-Long: " + b"a" * 293 + b"\r\n")
    reads = (
        [request]
        if split is None
        else [request[i : i + split] for i in range(0, len(request), split)]
    )
    written, closed = serve(reads, LIMITS)
    assert statuses(written) == [431]
    assert closed
    at_limit = get("/", b"X-Long: " + b"a" * 292 + b"\r\n")
    assert statuses(serve([at_limit], LIMITS)[0]) == [200]


def test_an_unterminated_line_is_refused_as_soon_as_it_passes_the_limit() -> None:
    # Never ending: refused once 301 bytes of the line are in, however they arrive.
    reads = [b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: "] + [b"a" * 50] * 10
    written, closed = serve(reads, LIMITS)
    assert statuses(written) == [431] and closed


def test_the_count_of_fields_is_exact() -> None:
    five = [b"X-%d: 1\r\n" % i for i in range(4)]  # with Host: 5 fields
    assert statuses(serve(bytewise(get("/", *five)), LIMITS)[0]) == [200]
    assert statuses(serve([get("/", *five, b"X-4: 1\r\n")], LIMITS)[0]) == [431]
    assert statuses(serve(bytewise(get("/", *five, b"X-4: 1\r\n")), LIMITS)[0]) == [431]


def test_an_over_long_request_line_is_414() -> None:
    written, closed = serve([get("/" + "a" * 300)], LIMITS)
    assert statuses(written) == [414] and closed


def test_pipelined_requests_and_bodies_are_counted_per_head() -> None:
    post = b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    # A GET, a POST with its body and another GET, in one read and then split anywhere.
    data = get("/1") + post + get("/2")
    assert statuses(serve([data], LIMITS)[0]) == [200, 200, 200]
    written, closed = serve([data[:20], data[20:75], data[75:]], LIMITS)
    assert statuses(written) == [200, 200, 200]
    assert b"/p 2 5" in written
    assert not closed
    # Each head has its own count: three heads of 4 fields each are fine.
    four = [b"X-%d: 1\r\n" % i for i in range(3)]
    assert statuses(serve([get("/a", *four) + get("/b", *four) + get("/c", *four)], LIMITS)[0]) == [
        200,
        200,
        200,
    ]


def test_blank_lines_before_a_request_are_allowed() -> None:
    assert statuses(serve([b"\r\n\r\n" + get("/")], LIMITS)[0]) == [200]


# --- the head's deadline (server.header_timeout_s) ------------------------------------------

TIMEOUT = 0.2


def timed(steps: list[bytes | float]) -> tuple[bytes, bool, Door]:
    """Feed a door protocol with a head deadline of TIMEOUT: bytes are reads, floats are
    pauses (seconds). What it answered, whether it closed, and its door."""

    async def main() -> tuple[bytes, bool, Door]:
        config = uvicorn.Config(app, http=DoorProtocol, lifespan="off", log_config=None)
        config.load()
        door = Door.from_limits(LIMITS, head_timeout=TIMEOUT)
        protocol = DoorProtocol(
            config=config, server_state=ServerState(), app_state={DOOR_STATE_KEY: door}
        )
        transport = Transport()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        for step in steps:
            if isinstance(step, float):
                await asyncio.sleep(step)
            elif not transport.closed:
                protocol.data_received(step)
            for _ in range(5):
                await asyncio.sleep(0)
        closed = transport.closed
        protocol.connection_lost(None)  # cancels what is left (the keep-alive timer)
        return transport.written, closed, door

    return asyncio.run(main())


def test_a_head_that_does_not_complete_in_time_gets_408() -> None:
    written, closed, door = timed([b"GET / HTTP/1.1\r\nHost: x\r\n", TIMEOUT * 2])
    assert statuses(written) == [408] and closed
    assert b"server.header_timeout_s" in written
    assert door.timed_out_heads == 1


def test_a_trickle_does_not_reset_the_deadline() -> None:
    # A byte every 40 ms: each read is in time, the whole head is not.
    steps: list[bytes | float] = []
    for byte in bytewise(get("/slow", b"X-Pad: " + b"a" * 20 + b"\r\n")):
        steps += [byte, 0.04]
    written, closed, _ = timed(steps)
    assert statuses(written) == [408] and closed


def test_a_new_connection_that_sends_nothing_is_closed_without_an_answer() -> None:
    written, closed, door = timed([TIMEOUT * 2])
    assert written == b"" and closed
    assert door.timed_out_heads == 0


def test_heads_in_time_are_served_and_keep_the_connection() -> None:
    # One head in one read, one split across reads in time; then idle past the deadline
    # (the keep-alive timeout, 5 s, governs an idle connection, not the head deadline).
    head = get("/b")
    written, closed, _ = timed(
        [get("/a"), TIMEOUT / 4, head[:10], TIMEOUT / 4, head[10:], TIMEOUT * 2]
    )
    assert statuses(written) == [200, 200]
    assert not closed


def test_the_next_head_on_a_kept_connection_has_its_deadline_too() -> None:
    written, closed, _ = timed([get("/a"), b"GET /b HTTP/1.1\r\n", TIMEOUT * 2])
    assert statuses(written) == [200, 408] and closed
