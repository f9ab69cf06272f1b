"""The Store implementations the conformance tests run against.

Add a `Backend` to `BACKENDS` to run every conformance test on another store.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from squall.store import SqliteStore, Store


@dataclass(frozen=True)
class Backend:
    """How the conformance tests open one Store implementation."""

    name: str
    # Opens an unstarted store; the same location opens the same data again.
    open_store: Callable[[Path, float], Store]
    # While the context is open, nothing can commit to the store at `location`.
    hold_write_lock: Callable[[Path], AbstractContextManager[None]]


def _open_sqlite(location: Path, flush_interval_s: float) -> Store:
    return SqliteStore(location / "squall.db", flush_interval_s=flush_interval_s)


@contextlib.contextmanager
def _lock_sqlite(location: Path) -> Iterator[None]:
    conn = sqlite3.connect(location / "squall.db", isolation_level=None, timeout=5.0)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


BACKENDS = [Backend("sqlite", _open_sqlite, _lock_sqlite)]
