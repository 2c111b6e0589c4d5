"""Plugins' bytecode, cached by the source's content hash (PEP 552), and compiled in another
process when there is a lot of it.

Why not Python's own ``__pycache__``:

- a ``.pyc`` there is trusted when the source's mtime (whole seconds) and size match, so an
  edit made in the same second that keeps the size would load stale code; a checked-hash
  ``.pyc`` (PEP 552) is validated against the source's bytes, so an edit is never served
  stale;
- nothing of the gateway's may land in the plugins folder (it may be read-only, shared by
  replicas, or watched): the cache is in the data folder (``data/bytecode``);
- ``compile()`` holds the GIL: compiling a 20,000-line module took 250 ms here, during which
  no other plugin's request ran. Sources above :data:`IN_PROCESS_BYTES` are compiled by a
  child interpreter (``python -m gateway.bytecode``) while this process only waits; loading
  the cached code takes about 5 ms.

Entries are written atomically (a temporary file renamed into place), so gateways and
workers sharing a data folder never read half a file. A cache that cannot be written (a
read-only data folder) only costs the compile time.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import marshal
import os
import subprocess
import sys
import types
from collections.abc import Iterable
from pathlib import Path

logger = logging.getLogger(__name__)

#: sources of at most this many bytes (stale ones, in total) are compiled in this process:
#: a few milliseconds of held GIL, less than starting a child interpreter
IN_PROCESS_BYTES = 32 * 1024
#: PEP 552 flags: hash-based, checked against the source on every load
_CHECKED_HASH = (0b11).to_bytes(4, "little")
_HEADER = 16


def source_hash(source: bytes) -> bytes:
    """The 8-byte hash PEP 552 stores (the same one the import system checks)."""
    return importlib.util.source_hash(source)


class BytecodeCache:
    """Code objects of plugin modules, keyed by source path, valid for one source content."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._warned = False

    def __repr__(self) -> str:
        return f"BytecodeCache({str(self.folder)!r})"

    def file_for(self, source_path: str) -> Path:
        """Where the bytecode of ``source_path`` is kept (one entry per path)."""
        key = hashlib.sha256(os.fsencode(source_path)).hexdigest()[:40]
        return self.folder / key[:2] / f"{key}.pyc"

    def load(self, source_path: str, source: bytes) -> types.CodeType | None:
        """The cached code of ``source_path`` if it was compiled from exactly ``source``."""
        try:
            data = self.file_for(source_path).read_bytes()
        except OSError:
            return None
        if (
            len(data) < _HEADER
            or data[:4] != importlib.util.MAGIC_NUMBER
            or data[4:8] != _CHECKED_HASH
            or data[8:16] != source_hash(source)
        ):
            return None
        try:
            code = marshal.loads(data[_HEADER:])
        except (EOFError, ValueError, TypeError):
            return None
        return code if isinstance(code, types.CodeType) else None

    def compile(self, source_path: str, source: bytes) -> types.CodeType:
        """The code of ``source``: from the cache, else compiled here (and cached)."""
        code = self.load(source_path, source)
        if code is None:
            code = compile(source, source_path, "exec", dont_inherit=True)
            self.store(source_path, source, code)
        return code

    def store(self, source_path: str, source: bytes, code: types.CodeType) -> None:
        """Keep ``code`` as the bytecode of ``source_path`` with content ``source``."""
        data = importlib.util.MAGIC_NUMBER + _CHECKED_HASH + source_hash(source)
        target = self.file_for(source_path)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.{id(code):x}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(data + marshal.dumps(code))
            os.replace(temporary, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            if not self._warned:
                self._warned = True
                logger.warning(
                    "bytecode cache %s is not writable (%s): compiling every load", self.folder, exc
                )

    def stale(self, sources: Iterable[Path]) -> list[tuple[Path, int]]:
        """The ``sources`` whose cached bytecode is missing or out of date, with their sizes."""
        out = []
        for path in sources:
            try:
                source = path.read_bytes()
            except OSError:
                continue  # gone, or unreadable: the import reports it
            if self.load(str(path), source) is None:
                out.append((path, len(source)))
        return out

    def prepare(self, sources: Iterable[Path], timeout: float | None = None) -> None:
        """Make sure ``sources`` have cached bytecode before they are imported: compiled here
        if there is little, else in a child interpreter, so this process's GIL stays free.

        Best effort: whatever is still stale afterwards (a syntax error, a failed child) is
        compiled, or reported, by the import itself.
        """
        stale = self.stale(sources)
        if not stale or sum(size for _, size in stale) <= IN_PROCESS_BYTES:
            return  # the import compiles and caches them, in little time
        command = [sys.executable, "-I", "-m", __name__, str(self.folder)]
        command += [str(path) for path, _ in stale]
        try:
            subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            logger.warning("compiling %d file(s) in a child process failed: %s", len(stale), exc)


def _compile_all(folder: str, paths: list[str]) -> int:
    """The child's side: compile each path into the cache; a syntax error is left for the
    import to report (with the plugin's name)."""
    cache = BytecodeCache(Path(folder))
    for path in paths:
        try:
            cache.compile(path, Path(path).read_bytes())
        except (OSError, SyntaxError, ValueError):
            continue
    return 0


if __name__ == "__main__":
    sys.exit(_compile_all(sys.argv[1], sys.argv[2:]))
