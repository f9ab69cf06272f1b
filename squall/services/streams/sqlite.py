"""The embedded stream store: one SQLite file in WAL mode.

Each stream row carries a counter that every put advances, and a record's
sequence number encodes that counter (see `keys`). Records, streams and
consumer checkpoints live in the same file, so a checkpoint and the records
it refers to survive or vanish together.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from squall.services.errors import ResourceExists, ServiceError, StorageFull
from squall.services.streams import keys
from squall.services.streams import sqlite_rows as rows
from squall.services.streams.errors import InvalidArgument
from squall.services.streams.model import (
    MAX_READ_LIMIT,
    Position,
    PositionType,
    PutRecordResult,
    PutRecordsEntry,
    PutRecordsResult,
    PutRecordsResultEntry,
    ReadResult,
    StreamDescription,
    StreamRecord,
    check_consumer_name,
    check_put_records_batch,
    check_read_limit,
    check_record,
    check_sequence_number,
    check_stream_name,
    check_stream_settings,
)

logger = logging.getLogger(__name__)

# Each entry upgrades the schema by one version: _MIGRATIONS[0] creates
# version 1 from an empty file. Append new entries, and never edit old ones.
_MIGRATIONS: tuple[str, ...] = (
    """
    -- AUTOINCREMENT so that a serial is never reused: sequence numbers and
    -- checkpoints of a deleted stream must not match a later stream.
    CREATE TABLE streams (
        serial INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        shard_count INTEGER NOT NULL,
        retention_h INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        last_counter INTEGER NOT NULL
    );
    CREATE TABLE records (
        id INTEGER PRIMARY KEY,
        stream_serial INTEGER NOT NULL,
        shard_index INTEGER NOT NULL,
        counter INTEGER NOT NULL,
        arrival_ms INTEGER NOT NULL,
        partition_key TEXT NOT NULL,
        data BLOB NOT NULL
    );
    CREATE UNIQUE INDEX records_position ON records (stream_serial, shard_index, counter);
    CREATE INDEX records_arrival ON records (stream_serial, arrival_ms);
    CREATE TABLE checkpoints (
        consumer TEXT NOT NULL,
        stream_serial INTEGER NOT NULL,
        shard_index INTEGER NOT NULL,
        counter INTEGER NOT NULL,
        saved_ms INTEGER NOT NULL,
        PRIMARY KEY (consumer, stream_serial, shard_index)
    );
    """,
    """
    -- The W3C trace context of the put, so that a trigger's invocation joins
    -- the writer's trace. NULL when the writer sent none or tracing was off.
    ALTER TABLE records ADD COLUMN traceparent TEXT;
    """,
)

_BUSY_TIMEOUT_MS = 5_000
_MS_PER_HOUR = 3_600_000


class SqliteStreams:
    """A `StreamStore` in one SQLite file.

    One connection behind a lock serves every thread. `clock` returns epoch
    seconds and stamps arrival times, so tests can move time forward.
    `max_db_bytes`, when given, caps the file's size, and a write past it
    raises `StorageFull` as a full disk would.
    """

    def __init__(
        self,
        path: Path,
        clock: Callable[[], float] = time.time,
        *,
        max_db_bytes: int | None = None,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None
        )
        try:
            _configure(self._conn, self.path, max_db_bytes)
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        """Close the connection; later calls raise RuntimeError."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- streams --------------------------------------------------------------

    def create_stream(self, name: str, shard_count: int = 1, retention_h: int = 24) -> StreamDescription:
        """Create a stream, or return the existing one if it has the same settings.

        Raises ResourceExists when a stream of that name has other settings.
        """
        check_stream_name(name)
        check_stream_settings(shard_count, retention_h)
        with self._transaction(write=True) as conn:
            existing = rows.find_stream(conn, name)
            if existing is not None:
                if (existing.shard_count, existing.retention_h) != (shard_count, retention_h):
                    raise ResourceExists(
                        f"stream {name!r} already exists with {existing.shard_count} shards and"
                        f" {existing.retention_h} h retention, not {shard_count} shards and"
                        f" {retention_h} h: use those settings or delete the stream first"
                    )
                return rows.describe(existing)

            created_ms = self._now_ms()
            cursor = conn.execute(
                "INSERT INTO streams (name, shard_count, retention_h, created_ms, last_counter) VALUES (?, ?, ?, ?, ?)",
                (name, shard_count, retention_h, created_ms, rows.first_counter(created_ms)),
            )
            serial = cursor.lastrowid
            if serial is None:
                raise ServiceError(f"stream {name!r}: SQLite returned no row id for the new stream")
        logger.info("created stream %s with %d shards", name, shard_count)
        return rows.describe(
            rows.StreamRow(serial, name, shard_count, retention_h, created_ms, rows.first_counter(created_ms))
        )

    def describe_stream(self, name: str) -> StreamDescription:
        """Return a stream's settings and shards, or raise ResourceNotFound."""
        check_stream_name(name)
        with self._transaction(write=False) as conn:
            return rows.describe(rows.get_stream(conn, name))

    def list_streams(self) -> list[str]:
        """Return the names of all streams, sorted."""
        with self._transaction(write=False) as conn:
            return [row[0] for row in conn.execute("SELECT name FROM streams ORDER BY name")]

    def delete_stream(self, name: str) -> None:
        """Delete a stream with its records and checkpoints, or raise ResourceNotFound."""
        check_stream_name(name)
        with self._transaction(write=True) as conn:
            stream = rows.get_stream(conn, name)
            conn.execute("DELETE FROM records WHERE stream_serial = ?", (stream.serial,))
            conn.execute("DELETE FROM checkpoints WHERE stream_serial = ?", (stream.serial,))
            conn.execute("DELETE FROM streams WHERE serial = ?", (stream.serial,))
        logger.info("deleted stream %s", name)

    # -- writing ----------------------------------------------------------------

    def put_record(
        self,
        stream: str,
        data: bytes,
        partition_key: str,
        explicit_hash_key: str | None = None,
        *,
        traceparent: str | None = None,
    ) -> PutRecordResult:
        """Append one record to the shard its hash key maps to.

        The hash key is `explicit_hash_key` when given, else the MD5 of the
        partition key. `traceparent` is stored beside the record, not in its
        data. Raises InvalidArgument or LimitExceeded for a bad record.
        """
        check_stream_name(stream)
        hash_key = check_record(data, partition_key, explicit_hash_key)
        with self._transaction(write=True) as conn:
            row = rows.get_stream(conn, stream)
            result = rows.insert_record(
                conn, row, bytes(data), partition_key, hash_key, self._now_ms(), traceparent
            )
            rows.save_counter(conn, rows.advance(row))
        return result

    def put_records(
        self, stream: str, records: Sequence[PutRecordsEntry], *, traceparent: str | None = None
    ) -> PutRecordsResult:
        """Append up to 500 records in one transaction, each with `traceparent` stored beside it.

        The request is checked as a whole first, as Kinesis does, so an
        invalid record stores nothing: it raises InvalidArgument (or
        LimitExceeded for a record over 1 MiB) naming its index. The request
        also raises LimitExceeded past 500 records or 5 MiB in all, and
        InvalidArgument when it is empty. No entry of the result fails here,
        because Kinesis fails single records only for throttling and internal
        errors, which this store does not have.
        """
        check_stream_name(stream)
        hash_keys = check_put_records_batch(records)
        with self._transaction(write=True) as conn:
            row = rows.get_stream(conn, stream)
            arrival_ms = self._now_ms()
            results: list[PutRecordsResultEntry] = []
            for entry, hash_key in zip(records, hash_keys, strict=True):
                stored = rows.insert_record(
                    conn, row, bytes(entry.data), entry.partition_key, hash_key, arrival_ms, traceparent
                )
                row = rows.advance(row)
                results.append(PutRecordsResultEntry(shard_id=stored.shard_id, sequence_number=stored.sequence_number))
            rows.save_counter(conn, row)

        failed = sum(1 for result in results if result.failed)
        return PutRecordsResult(failed_record_count=failed, records=tuple(results))

    # -- reading --------------------------------------------------------------

    def read(self, stream: str, shard_id: str, position: Position, limit: int = MAX_READ_LIMIT) -> ReadResult:
        """Return up to `limit` records of one shard from `position` on, in sequence-number order.

        Records older than the retention period are never returned, even
        before `trim()` deletes them. A read also stops before the data it
        returns would pass 10 MiB. `ReadResult` describes the next position.
        """
        check_stream_name(stream)
        if not isinstance(position, Position):
            raise InvalidArgument(f"read position must be a Position, got {type(position).__name__}")
        check_read_limit(limit)

        with self._transaction(write=False) as conn:
            row = rows.get_stream(conn, stream)
            shard_index = rows.get_shard_index(row, shard_id)
            cutoff_ms = self._now_ms() - row.retention_h * _MS_PER_HOUR
            after_counter = rows.start_after(conn, row, shard_index, position, cutoff_ms)
            records: list[StreamRecord] = []
            if after_counter is not None:
                records = rows.select_records(conn, row, shard_index, after_counter, cutoff_ms, limit)

        if records:
            next_position = Position.after_sequence_number(records[-1].sequence_number)
        elif position.type is PositionType.LATEST:
            # Everything put later gets a higher counter than the stream's
            # last one, so "after it" is LATEST pinned to this moment.
            now = keys.encode_sequence_number(row.serial, row.last_counter, shard_index)
            next_position = Position.after_sequence_number(now)
        else:
            next_position = position
        return ReadResult(records=tuple(records), next_position=next_position)

    def trim(self) -> int:
        """Delete the records older than their stream's retention period; return how many."""
        now_ms = self._now_ms()
        deleted = 0
        with self._transaction(write=True) as conn:
            streams = conn.execute("SELECT serial, retention_h FROM streams").fetchall()
            for serial, retention_h in streams:
                cursor = conn.execute(
                    "DELETE FROM records WHERE stream_serial = ? AND arrival_ms < ?",
                    (serial, now_ms - retention_h * _MS_PER_HOUR),
                )
                deleted += cursor.rowcount
        if deleted:
            logger.info("trimmed %d stream records past their retention period", deleted)
        return deleted

    # -- checkpoints ------------------------------------------------------------

    def save_checkpoint(self, consumer: str, stream: str, shard_id: str, sequence_number: str) -> None:
        """Store the sequence number of the last record `consumer` processed in a shard.

        A later save replaces the earlier one, also with a lower number, so a
        consumer can rewind. Raises InvalidArgument when the number was not
        issued for this shard of this stream.
        """
        check_consumer_name(consumer)
        check_stream_name(stream)
        check_sequence_number(sequence_number)
        with self._transaction(write=True) as conn:
            row = rows.get_stream(conn, stream)
            shard_index = rows.get_shard_index(row, shard_id)
            counter = rows.counter_of(row, shard_index, sequence_number)
            conn.execute(
                "INSERT INTO checkpoints (consumer, stream_serial, shard_index, counter, saved_ms)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (consumer, stream_serial, shard_index)"
                " DO UPDATE SET counter = excluded.counter, saved_ms = excluded.saved_ms",
                (consumer, row.serial, shard_index, counter, self._now_ms()),
            )

    def load_checkpoint(self, consumer: str, stream: str, shard_id: str) -> str | None:
        """Return the sequence number `save_checkpoint` stored, or None if there is none."""
        check_consumer_name(consumer)
        check_stream_name(stream)
        with self._transaction(write=False) as conn:
            row = rows.get_stream(conn, stream)
            shard_index = rows.get_shard_index(row, shard_id)
            found = conn.execute(
                "SELECT counter FROM checkpoints WHERE consumer = ? AND stream_serial = ? AND shard_index = ?",
                (consumer, row.serial, shard_index),
            ).fetchone()
        if found is None:
            return None
        return keys.encode_sequence_number(row.serial, found[0], shard_index)

    # -- plumbing ---------------------------------------------------------------

    def _now_ms(self) -> int:
        return round(self._clock() * 1000)

    @contextlib.contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """Hold the lock for one transaction; commit on success, roll back on any error.

        A full disk becomes StorageFull, and the rollback keeps earlier data intact.
        """
        with self._lock:
            conn = self._conn
            if conn is None:
                raise RuntimeError(f"stream store {self.path} is closed")
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                yield conn
                conn.execute("COMMIT")
            except (sqlite3.Error, OSError) as exc:
                _rollback(conn)
                if _is_disk_full(exc):
                    logger.error("stream store %s: write rejected because the disk is full: %s", self.path, exc)
                    raise StorageFull(
                        f"stream store {self.path}: the disk is full, so nothing was written;"
                        " free space in that folder and retry"
                    ) from exc
                raise
            except BaseException:
                _rollback(conn)
                raise


def _configure(conn: sqlite3.Connection, path: Path, max_db_bytes: int | None) -> None:
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise ServiceError(
            f"stream store {path}: journal_mode is {mode!r} after asking for 'wal';"
            " put the file on a local file system that supports shared memory"
        )
    # NORMAL in WAL mode: a commit survives a crash of the process, and only
    # the last commits can be lost on power failure.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    _migrate(conn, path)
    if max_db_bytes is not None:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count={max(1, max_db_bytes // page_size)}")


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(_MIGRATIONS):
        raise ServiceError(
            f"stream store {path} has schema version {version}, newer than the {len(_MIGRATIONS)}"
            " this Squall knows: upgrade Squall"
        )
    for number in range(version, len(_MIGRATIONS)):
        conn.executescript(f"BEGIN IMMEDIATE; {_MIGRATIONS[number]}; PRAGMA user_version = {number + 1}; COMMIT;")


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            # SQLite rolls back by itself after some errors, and the original
            # error is the one worth raising.
            logger.debug("rollback after a failed stream transaction failed", exc_info=True)


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC
