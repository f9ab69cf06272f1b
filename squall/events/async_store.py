"""The durable queue of asynchronous invocations, on its own SQLite file.

An invocation is acknowledged to its caller only once its row is committed.
The row stays until the invocation has succeeded or finally failed, so after a
crash every accepted invocation runs again: at least once, never lost.
"""

from __future__ import annotations

import errno
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from squall.services.errors import StorageFull

_SCHEMA = """
CREATE TABLE IF NOT EXISTS invocations (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    function TEXT NOT NULL,
    trigger TEXT NOT NULL,
    payload BLOB NOT NULL,
    accepted_at REAL NOT NULL,
    due_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error BLOB
);
"""


@dataclass(frozen=True, slots=True)
class QueuedInvocation:
    """One accepted asynchronous invocation, without its payload."""

    id: int
    request_id: str
    function: str
    trigger: str
    accepted_at: float  # epoch seconds; the event's age counts from here
    due_at: float  # epoch seconds of the next attempt
    attempts: int  # attempts already made that ended in a function error
    qualifier: str | None = None  # the version or alias the caller named; None runs $LATEST
    # The caller's X-Ray trace fields (Root, Sampled, Lineage), which carry the
    # count of recursive invocations of a chain of calls across the queue.
    trace_header: str | None = None


@dataclass(frozen=True, slots=True)
class NewInvocation:
    """An asynchronous invocation to accept."""

    request_id: str
    function: str
    trigger: str
    payload: bytes
    accepted_at: float
    traceparent: str | None = None  # W3C trace context of the caller, when tracing is on
    qualifier: str | None = None  # the version or alias the caller named; None runs $LATEST
    trace_header: str | None = None  # the caller's X-Ray trace fields, as QueuedInvocation keeps them


class AsyncStore:
    """Rows of pending asynchronous invocations; every method commits before it returns."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # A commit in WAL mode survives a crash of this process, which is the
        # promise made to callers; NORMAL skips the fsync that power loss needs.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        # Stores created before tracing, versions or loop detection existed lack
        # these columns; their rows read as NULL.
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(invocations)")}
        for column in ("traceparent", "qualifier", "trace_header"):
            if column not in columns:
                self._db.execute(f"ALTER TABLE invocations ADD COLUMN {column} TEXT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, entries: Iterable[NewInvocation]) -> list[QueuedInvocation]:
        """Commit new invocations, due now, and return them with their row ids."""
        added: list[QueuedInvocation] = []
        with self._lock, _full_disk_as_error():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for entry in entries:
                    cursor = self._db.execute(
                        "INSERT INTO invocations"
                        " (request_id, function, trigger, payload, accepted_at, due_at, traceparent, qualifier,"
                        " trace_header) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (entry.request_id, entry.function, entry.trigger, entry.payload,
                         entry.accepted_at, entry.accepted_at, entry.traceparent, entry.qualifier,
                         entry.trace_header),
                    )
                    row_id = cursor.lastrowid
                    if row_id is None:
                        raise sqlite3.DatabaseError("INSERT returned no row id")
                    added.append(
                        QueuedInvocation(row_id, entry.request_id, entry.function, entry.trigger,
                                         entry.accepted_at, entry.accepted_at, 0, entry.qualifier,
                                         entry.trace_header)
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return added

    def pending(self) -> list[QueuedInvocation]:
        """Return every invocation still to run, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, request_id, function, trigger, accepted_at, due_at, attempts, qualifier, trace_header"
                " FROM invocations ORDER BY id"
            ).fetchall()
        return [QueuedInvocation(*row) for row in rows]

    def payload(self, row_id: int) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT payload FROM invocations WHERE id = ?", (row_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def traceparent(self, row_id: int) -> str | None:
        """Return the W3C trace context the invocation was accepted with, if any."""
        with self._lock:
            row = self._db.execute("SELECT traceparent FROM invocations WHERE id = ?", (row_id,)).fetchone()
        return None if row is None else row[0]

    def last_error(self, row_id: int) -> bytes | None:
        """Return the error JSON of the invocation's last failed attempt, if any."""
        with self._lock:
            row = self._db.execute("SELECT last_error FROM invocations WHERE id = ?", (row_id,)).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def reschedule(self, row_id: int, due_at: float, attempts: int, last_error: bytes | None) -> None:
        """Set when the invocation runs next, with the attempts made so far and the last error."""
        with self._lock, _full_disk_as_error():
            self._db.execute(
                "UPDATE invocations SET due_at = ?, attempts = ?, last_error = coalesce(?, last_error) WHERE id = ?",
                (due_at, attempts, last_error, row_id),
            )

    def remove(self, row_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM invocations WHERE id = ?", (row_id,))

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM invocations").fetchone()[0])


class _full_disk_as_error:
    """Turn SQLite's and the OS's full-disk errors into StorageFull."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, traceback: object) -> bool:
        if isinstance(error, sqlite3.OperationalError) and "full" in str(error):
            raise StorageFull(f"cannot accept the asynchronous invocation: {error}") from error
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            raise StorageFull(f"cannot accept the asynchronous invocation: {error}") from error
        return False
