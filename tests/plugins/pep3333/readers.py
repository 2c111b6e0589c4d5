"""How the ``pep3333`` plugin reads a request body: one ``mode`` per file method of PEP 3333.

The tests load this module too and read the same bytes from an ``io.BytesIO`` in the same
way: ``wsgi.input`` behaves as a file when both give the same pieces, call by call.
"""

import hashlib
import json

MODES = (
    "read",
    "read-1",
    "read_n",
    "readline",
    "readline_limit",
    "readlines",
    "readlines_hint",
    "iter",
)


def read_with(stream, mode, n, raw=None):
    """Read ``stream`` to its end with ``mode``; a digest of the bytes and of their pieces.

    ``raw`` is the server's own object when ``stream`` is the validator's wrapper: the
    validator refuses ``read()`` without a size (PEP 3333 allows it) and iterates with
    ``readline()``, so those two modes call the server's object directly.
    """
    raw = stream if raw is None else raw
    digest = hashlib.sha256()
    shape = []

    def take(piece):
        digest.update(piece)
        shape.append(len(piece))

    if mode == "read":
        take(raw.read())
    elif mode == "read-1":
        take(stream.read(-1))
    elif mode == "read_n":
        while piece := stream.read(n):
            take(piece)
    elif mode == "readline":
        while line := stream.readline():
            take(line)
    elif mode == "readline_limit":
        while line := stream.readline(n):
            take(line)
    elif mode == "readlines":
        for line in stream.readlines():
            take(line)
    elif mode == "readlines_hint":
        while lines := stream.readlines(n):
            shape.append("call")
            for line in lines:
                take(line)
    elif mode == "iter":
        for line in raw:
            take(line)
    else:
        raise ValueError(f"unknown mode {mode!r}")
    at_eof = [stream.read(1), stream.readline(), stream.readline(5), stream.readlines()]
    return {
        "sha256": digest.hexdigest(),
        "length": sum(x for x in shape if isinstance(x, int)),
        "pieces": len(shape),
        "shape": hashlib.sha256(json.dumps(shape).encode()).hexdigest(),
        "at_eof": repr(at_eof),
    }
