"""Django's ``migrate``, run by one process at a time per database.

Every gateway process migrates at start-up (and when a Django plugin with migrations loads).
Several worker processes, or several replicas on one database, start together: unguarded, two
of them apply the same migration, and the second fails on a table that already exists (or, on
SQLite, on "database is locked"). Each ``migrate`` therefore runs under a lock that every
process using the database shares; the process that gets the lock second finds every migration
recorded in ``django_migrations`` and applies nothing.

- PostgreSQL: a session-level advisory lock (``pg_advisory_lock``) on the connection that
  ``migrate`` itself uses; the server releases it if the process dies.
- SQLite: ``fcntl.flock`` on a lock file beside the database file (in the data folder for the
  default database), so every process on the machine that opens that file takes turns.
- Another engine: the same file lock in the data folder, which orders the processes of one
  machine only.

Django takes no lock of its own around ``migrate``; this is the usual remedy for running it at
container start.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: the advisory lock's key: a 64-bit number every gateway derives the same way
LOCK_NAME = b"plugin-gateway: django migrate"
ADVISORY_KEY = int.from_bytes(hashlib.sha256(LOCK_NAME).digest()[:8], "big", signed=True)


def migrate(data_dir: Path, *app_labels: str) -> None:
    """``manage.py migrate [APP_LABEL]`` under the database's lock; waits for the lock."""
    from django.core.management import call_command
    from django.db import connection

    started = time.monotonic()
    with _lock(connection, data_dir):
        waited = time.monotonic() - started
        if waited > 1:
            logger.info("waited %.1f s for another process's migrations", waited)
        call_command("migrate", *app_labels, interactive=False, verbosity=0)


@contextmanager
def _lock(connection: Any, data_dir: Path) -> Iterator[None]:
    if connection.vendor == "postgresql":
        with _advisory_lock(connection):
            yield
        return
    name = str(connection.settings_dict.get("NAME") or "")
    on_disk = connection.vendor == "sqlite" and name and not _in_memory(name)
    lock_file = Path(name + ".migrate-lock") if on_disk else data_dir / "migrate.lock"
    with _file_lock(lock_file):
        yield


def _in_memory(name: str) -> bool:
    return name == ":memory:" or name.startswith("file::memory:") or "mode=memory" in name


@contextmanager
def _advisory_lock(connection: Any) -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_KEY])
    try:
        yield
    finally:
        # A connection closed meanwhile has already lost the lock with its session.
        if connection.connection is not None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_KEY])


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
