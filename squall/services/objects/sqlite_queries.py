"""The SQLite side of `FileObjects`: schema, connection settings and the queries on rows.

Every function takes a connection that the caller holds under the store's
lock, inside a transaction where it writes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from squall.services.errors import ServiceError
from squall.services.objects.errors import NoSuchBucket, NoSuchKey, PreconditionFailed
from squall.services.objects.listing import ListPosition
from squall.services.objects.model import BucketInfo, EventName, ObjectInfo, etag_matches

SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    created_at REAL NOT NULL
);
-- The primary key keeps keys of a bucket in BINARY collation, which is
-- UTF-8 byte order: the order ListObjectsV2 returns.
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    content_type TEXT NOT NULL,
    last_modified REAL NOT NULL,
    metadata TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_blob ON objects (blob);
-- AUTOINCREMENT so that a seq is never reused after trim_events: a reader
-- resuming from its checkpoint must never see the numbers go back.
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER,
    etag TEXT,
    time REAL NOT NULL,
    traceparent TEXT,
    trace_header TEXT
);
"""

OBJECT_COLUMNS = "bucket, key, size, etag, content_type, last_modified, metadata"
BUSY_TIMEOUT_S = 5.0


def connect(path: Path) -> sqlite3.Connection:
    """Open the database in WAL mode with synchronous=NORMAL and create the tables it lacks."""
    # isolation_level=None: transactions are opened explicitly with BEGIN.
    # check_same_thread=False: worker threads share it under the store's lock.
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    try:
        mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise ServiceError(
                f"object store {path}: journal_mode is {mode!r} after requesting 'wal'; put the folder on a"
                " local file system that supports shared memory"
            )
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.executescript(SCHEMA)
        _add_trace_column(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def _add_trace_column(connection: sqlite3.Connection) -> None:
    # A file made before events carried the uploader's W3C trace context
    # lacks the column, which CREATE TABLE IF NOT EXISTS does not add.
    columns = {row[1] for row in connection.execute("PRAGMA table_info(events)")}
    if "traceparent" not in columns:
        connection.execute("ALTER TABLE events ADD COLUMN traceparent TEXT")
    # Nor does a file made before events carried the writer's X-Ray trace header.
    if "trace_header" not in columns:
        connection.execute("ALTER TABLE events ADD COLUMN trace_header TEXT")


def require_bucket(connection: sqlite3.Connection, name: str) -> BucketInfo:
    """Return the bucket's record or raise `NoSuchBucket`."""
    row = connection.execute("SELECT name, created_at FROM buckets WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NoSuchBucket(f"bucket {name!r} does not exist: create it first")
    return BucketInfo(row[0], row[1])


def require_object(connection: sqlite3.Connection, bucket: str, key: str) -> tuple[ObjectInfo, str]:
    """Return the object and its blob id, or raise `NoSuchBucket` or `NoSuchKey`."""
    row = connection.execute(
        f"SELECT {OBJECT_COLUMNS}, blob FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
    ).fetchone()
    if row is None:
        require_bucket(connection, bucket)
        raise NoSuchKey(f"key {key!r} does not exist in bucket {bucket!r}")
    return object_from_row(row[:-1]), row[-1]


def check_absent(connection: sqlite3.Connection, bucket: str, key: str) -> None:
    """Raise `PreconditionFailed` if the key exists."""
    if connection.execute("SELECT 1 FROM objects WHERE bucket = ? AND key = ?", (bucket, key)).fetchone():
        raise PreconditionFailed(
            f"key {key!r} already exists in bucket {bucket!r} and the put requested to write only a new key"
            " (if_none_match)"
        )


def check_etag(connection: sqlite3.Connection, bucket: str, key: str, if_match: str) -> None:
    """Raise `NoSuchKey` if the key is missing, or `PreconditionFailed` if its ETag does not match `if_match`."""
    row = connection.execute("SELECT etag FROM objects WHERE bucket = ? AND key = ?", (bucket, key)).fetchone()
    if row is None:
        raise NoSuchKey(
            f"key {key!r} does not exist in bucket {bucket!r}, and the put requested to replace only"
            f" an object with ETag {if_match} (if_match): put without if_match to create the key"
        )
    if not etag_matches(if_match, row[0]):
        raise PreconditionFailed(
            f"key {key!r} in bucket {bucket!r} has ETag {row[0]}, and the put requested to replace only"
            f" an object with ETag {if_match} (if_match): read the object again and retry with its ETag"
        )


def upsert_object(connection: sqlite3.Connection, info: ObjectInfo, blob_id: str) -> str | None:
    """Write the object row and return the blob id of the version it replaced, if any."""
    previous = connection.execute(
        "SELECT blob FROM objects WHERE bucket = ? AND key = ?", (info.bucket, info.key)
    ).fetchone()
    connection.execute(
        f"INSERT OR REPLACE INTO objects ({OBJECT_COLUMNS}, blob) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            info.bucket,
            info.key,
            info.size,
            info.etag,
            info.content_type,
            info.last_modified,
            json.dumps(dict(info.metadata), ensure_ascii=False),
            blob_id,
        ),
    )
    return None if previous is None else previous[0]


def insert_event(
    connection: sqlite3.Connection,
    bucket: str,
    key: str,
    name: EventName,
    size: int | None,
    etag: str | None,
    at: float,
    traceparent: str | None = None,
    trace_header: str | None = None,
) -> None:
    connection.execute(
        "INSERT INTO events (bucket, key, name, size, etag, time, traceparent, trace_header)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (bucket, key, name.value, size, etag, at, traceparent, trace_header),
    )


def fetch_objects(
    connection: sqlite3.Connection,
    bucket: str,
    lower: ListPosition | None,
    upper: str | None,
    limit: int,
) -> list[ObjectInfo]:
    """Return up to `limit` objects of the bucket between the bounds, in key order (see `FetchObjects`)."""
    conditions = ["bucket = ?"]
    parameters: list[object] = [bucket]
    if lower is not None:
        conditions.append("key >= ?" if lower.inclusive else "key > ?")
        parameters.append(lower.key)
    if upper is not None:
        conditions.append("key < ?")
        parameters.append(upper)
    parameters.append(limit)
    rows = connection.execute(
        f"SELECT {OBJECT_COLUMNS} FROM objects WHERE {' AND '.join(conditions)} ORDER BY key LIMIT ?",
        parameters,
    ).fetchall()
    return [object_from_row(row) for row in rows]


def object_from_row(row: Sequence[object]) -> ObjectInfo:
    bucket, key, size, etag, content_type, last_modified, metadata = row
    return ObjectInfo(
        bucket=str(bucket),
        key=str(key),
        size=int(size),  # type: ignore[call-overload]
        etag=str(etag),
        content_type=str(content_type),
        last_modified=float(last_modified),  # type: ignore[arg-type]
        metadata=json.loads(str(metadata)),
    )
