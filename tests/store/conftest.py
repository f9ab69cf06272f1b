"""Fixtures shared by the store tests.

The conformance tests take the `backend` fixture, so that every Store
implementation runs the same tests: add a `Backend` to `BACKENDS`.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest

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


@pytest.fixture(params=BACKENDS, ids=[backend.name for backend in BACKENDS])
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.param


@pytest.fixture
def store(backend: Backend, tmp_path: Path) -> Iterator[Store]:
    opened = backend.open_store(tmp_path, 0.01)
    opened.start()
    yield opened
    opened.close()
