"""Stores open files written before records carried a traceparent, keep their data, and store traces from then on."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from squall.services.objects import FileObjects
from squall.services.streams import Position, SqliteStreams
from squall.services.tables import SqliteTables

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
SHARD_0 = "shardId-000000000000"

# The schemas as they were before the traceparent column, written out here
# rather than taken from the stores, which only keep the current one.
OLD_STREAMS_SCHEMA = """
CREATE TABLE streams (serial INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,
    shard_count INTEGER NOT NULL, retention_h INTEGER NOT NULL, created_ms INTEGER NOT NULL,
    last_counter INTEGER NOT NULL);
CREATE TABLE records (id INTEGER PRIMARY KEY, stream_serial INTEGER NOT NULL, shard_index INTEGER NOT NULL,
    counter INTEGER NOT NULL, arrival_ms INTEGER NOT NULL, partition_key TEXT NOT NULL, data BLOB NOT NULL);
CREATE UNIQUE INDEX records_position ON records (stream_serial, shard_index, counter);
CREATE INDEX records_arrival ON records (stream_serial, arrival_ms);
CREATE TABLE checkpoints (consumer TEXT NOT NULL, stream_serial INTEGER NOT NULL, shard_index INTEGER NOT NULL,
    counter INTEGER NOT NULL, saved_ms INTEGER NOT NULL, PRIMARY KEY (consumer, stream_serial, shard_index));
PRAGMA user_version = 1;
"""

OLD_TABLES_SCHEMA = """
CREATE TABLE tables (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,
    partition_name TEXT NOT NULL, partition_type TEXT NOT NULL, sort_name TEXT, sort_type TEXT,
    ttl_attribute TEXT, stream INTEGER NOT NULL, created_at REAL NOT NULL,
    item_count INTEGER NOT NULL DEFAULT 0, size_bytes INTEGER NOT NULL DEFAULT 0);
CREATE TABLE items (table_id INTEGER NOT NULL, partition_key BLOB NOT NULL, sort_key BLOB NOT NULL,
    item TEXT NOT NULL, size_bytes INTEGER NOT NULL, expires_at REAL,
    PRIMARY KEY (table_id, partition_key, sort_key)) WITHOUT ROWID;
CREATE INDEX items_expires_at ON items (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, table_id INTEGER NOT NULL,
    event_name TEXT NOT NULL, keys TEXT NOT NULL, old_image TEXT, new_image TEXT,
    size_bytes INTEGER NOT NULL, created_at REAL NOT NULL, by_ttl INTEGER NOT NULL);
CREATE INDEX changes_table_seq ON changes (table_id, seq);
PRAGMA user_version = 1;
"""

OLD_OBJECTS_SCHEMA = """
CREATE TABLE buckets (name TEXT PRIMARY KEY, created_at REAL NOT NULL);
CREATE TABLE objects (bucket TEXT NOT NULL, key TEXT NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,
    etag TEXT NOT NULL, content_type TEXT NOT NULL, last_modified REAL NOT NULL, metadata TEXT NOT NULL,
    PRIMARY KEY (bucket, key)) WITHOUT ROWID;
CREATE INDEX objects_blob ON objects (blob);
CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, bucket TEXT NOT NULL, key TEXT NOT NULL,
    name TEXT NOT NULL, size INTEGER, etag TEXT, time REAL NOT NULL);
"""


def write_old_file(path: Path, schema: str, rows: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    try:
        connection.executescript(schema + rows)
    finally:
        connection.close()


def streams_traces(folder: Path) -> list[str | None]:
    write_old_file(
        folder / "streams.db",
        OLD_STREAMS_SCHEMA,
        "INSERT INTO streams VALUES (1, 'clicks', 1, 24, 1700000000000, 1700000000000001);"
        "INSERT INTO records VALUES (1, 1, 0, 1700000000000001, 1700000000000, 'k', x'6f6c64');",
    )
    store = SqliteStreams(folder / "streams.db", clock=lambda: 1_700_000_001.0)
    try:
        store.put_record("clicks", b"new", "k", traceparent=TRACEPARENT)
        records = store.read("clicks", SHARD_0, Position.trim_horizon()).records
    finally:
        store.close()
    assert [record.data for record in records] == [b"old", b"new"]
    return [record.traceparent for record in records]


def tables_traces(folder: Path) -> list[str | None]:
    write_old_file(
        folder / "tables.db",
        OLD_TABLES_SCHEMA,
        "INSERT INTO tables (id, name, partition_name, partition_type, stream, created_at)"
        " VALUES (1, 'users', 'id', 'S', 1, 1700000000.0);"
        """INSERT INTO changes (table_id, event_name, keys, new_image, size_bytes, created_at, by_ttl)
        VALUES (1, 'INSERT', '{"id": {"S": "old"}}', '{"id": {"S": "old"}}', 10, 1700000000.0, 0);""",
    )
    store = SqliteTables(folder / "tables.db")
    try:
        store.put("users", {"id": "new"}, traceparent=TRACEPARENT)
        changes = store.changes("users")
    finally:
        store.close()
    assert [change.keys for change in changes] == [{"id": "old"}, {"id": "new"}]
    return [change.traceparent for change in changes]


def objects_traces(folder: Path) -> list[str | None]:
    write_old_file(
        folder / "objects" / "objects.db",
        OLD_OBJECTS_SCHEMA,
        "INSERT INTO buckets VALUES ('uploads', 1700000000.0);"
        "INSERT INTO events (bucket, key, name, size, etag, time)"
        " VALUES ('uploads', 'old.txt', 'ObjectRemoved:Delete', NULL, NULL, 1700000000.0);",
    )
    store = FileObjects(folder / "objects")
    try:
        store.put("uploads", "new.txt", b"new", traceparent=TRACEPARENT)
        events = store.events()
    finally:
        store.close()
    assert [event.key for event in events] == ["old.txt", "new.txt"]
    return [event.traceparent for event in events]


@pytest.mark.parametrize("open_old_file", [streams_traces, tables_traces, objects_traces])
def test_old_file_gains_trace_column(tmp_path: Path, open_old_file: Callable[[Path], list[str | None]]) -> None:
    traces = open_old_file(tmp_path)

    assert traces == [None, TRACEPARENT]
