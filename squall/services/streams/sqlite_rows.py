"""Queries on the stream store's tables, shared by the methods of `SqliteStreams`.

Every function runs inside a transaction its caller holds.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass

from squall.services.errors import ResourceNotFound
from squall.services.streams import keys
from squall.services.streams.errors import InvalidArgument
from squall.services.streams.model import (
    MAX_READ_BYTES,
    Position,
    PositionType,
    PutRecordResult,
    Shard,
    StreamDescription,
    StreamRecord,
    StreamStatus,
)

COUNTERS_PER_MS = 1_000


@dataclass(frozen=True)
class StreamRow:
    """One row of the streams table."""

    serial: int
    name: str
    shard_count: int
    retention_h: int
    created_ms: int
    last_counter: int


def find_stream(conn: sqlite3.Connection, name: str) -> StreamRow | None:
    """Return the stream named `name`, or None."""
    found = conn.execute(
        "SELECT serial, name, shard_count, retention_h, created_ms, last_counter FROM streams WHERE name = ?",
        (name,),
    ).fetchone()
    return None if found is None else StreamRow(*found)


def get_stream(conn: sqlite3.Connection, name: str) -> StreamRow:
    """Return the stream named `name`, or raise ResourceNotFound."""
    row = find_stream(conn, name)
    if row is None:
        raise ResourceNotFound(f"stream {name!r} not found: create it first or check the name")
    return row


def get_shard_index(row: StreamRow, shard_id: object) -> int:
    """Return the index of a shard of the stream, or raise ResourceNotFound."""
    index = keys.parse_shard_id(shard_id) if isinstance(shard_id, str) else None
    if index is None or index >= row.shard_count:
        raise ResourceNotFound(
            f"shard {shard_id!r} not found in stream {row.name!r}: use {keys.shard_id(0)}"
            f" to {keys.shard_id(row.shard_count - 1)}"
        )
    return index


def describe(row: StreamRow) -> StreamDescription:
    """Build the public description of a stream row."""
    shards = []
    for index in range(row.shard_count):
        start, end = keys.hash_key_range(index, row.shard_count)
        shards.append(
            Shard(
                shard_id=keys.shard_id(index),
                starting_hash_key=str(start),
                ending_hash_key=str(end),
                starting_sequence_number=keys.encode_sequence_number(row.serial, first_counter(row.created_ms), index),
            )
        )
    return StreamDescription(
        name=row.name,
        status=StreamStatus.ACTIVE,
        shard_count=row.shard_count,
        retention_h=row.retention_h,
        created_at=row.created_ms / 1000,
        shards=tuple(shards),
    )


def insert_record(
    conn: sqlite3.Connection,
    row: StreamRow,
    data: bytes,
    partition_key: str,
    hash_key: int | None,
    arrival_ms: int,
    traceparent: str | None = None,
) -> PutRecordResult:
    """Insert a record with the stream's next counter; the caller saves the advanced counter."""
    if hash_key is None:
        hash_key = keys.partition_key_hash(partition_key)
    shard_index = keys.shard_for_hash_key(hash_key, row.shard_count)
    counter = row.last_counter + 1
    conn.execute(
        "INSERT INTO records (stream_serial, shard_index, counter, arrival_ms, partition_key, data, traceparent)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (row.serial, shard_index, counter, arrival_ms, partition_key, data, traceparent),
    )
    return PutRecordResult(
        shard_id=keys.shard_id(shard_index),
        sequence_number=keys.encode_sequence_number(row.serial, counter, shard_index),
    )


def first_counter(created_ms: int) -> int:
    """Return the counter a new stream starts from.

    Starting from the creation time in milliseconds times 1,000, instead of
    from 0, fills sequence numbers with digits as Kinesis's are. For the year
    2100 that start is about 4 * 10**15, far below SQLite's 64-bit limit.
    """
    return max(0, created_ms) * COUNTERS_PER_MS


def advance(row: StreamRow) -> StreamRow:
    """Return the row with its counter moved past one more record."""
    return StreamRow(row.serial, row.name, row.shard_count, row.retention_h, row.created_ms, row.last_counter + 1)


def save_counter(conn: sqlite3.Connection, row: StreamRow) -> None:
    """Store the row's counter, after the records that used it are inserted."""
    conn.execute("UPDATE streams SET last_counter = ? WHERE serial = ?", (row.last_counter, row.serial))


def counter_of(row: StreamRow, shard_index: int, sequence_number: str) -> int:
    """Return the counter in a sequence number of this shard, or raise InvalidArgument."""
    parts = keys.decode_sequence_number(sequence_number)
    if parts is None or parts.stream_serial != row.serial or parts.shard_index != shard_index:
        raise InvalidArgument(
            f"sequence number {sequence_number!r} was not issued for shard {keys.shard_id(shard_index)!r}"
            f" of stream {row.name!r}: use a sequence number that a put or read on that shard returned"
        )
    return parts.counter


def start_after(
    conn: sqlite3.Connection, row: StreamRow, shard_index: int, position: Position, cutoff_ms: int
) -> int | None:
    """Return the counter a read starts after, or None when no record can match yet."""
    match position.type:
        case PositionType.TRIM_HORIZON:
            return 0
        case PositionType.LATEST:
            return row.last_counter
        case PositionType.AT_SEQUENCE_NUMBER:
            return counter_of(row, shard_index, str(position.sequence_number)) - 1
        case PositionType.AFTER_SEQUENCE_NUMBER:
            return counter_of(row, shard_index, str(position.sequence_number))
        case PositionType.AT_TIMESTAMP:
            # Rounding first keeps float noise such as 0.3 * 1000 = 300.00000000000006
            # from pushing the bound one millisecond late.
            at_ms = math.ceil(round(float(position.timestamp or 0) * 1000, 6))
            found = conn.execute(
                "SELECT MIN(counter) FROM records WHERE stream_serial = ? AND shard_index = ? AND arrival_ms >= ?",
                (row.serial, shard_index, max(at_ms, cutoff_ms)),
            ).fetchone()[0]
            return None if found is None else found - 1
    raise InvalidArgument(f"read position type {position.type!r} is not supported")


def select_records(
    conn: sqlite3.Connection, row: StreamRow, shard_index: int, after_counter: int, cutoff_ms: int, limit: int
) -> list[StreamRecord]:
    """Return the kept records of a shard after `after_counter`, within the count and 10 MiB limits."""
    cursor = conn.execute(
        "SELECT counter, arrival_ms, partition_key, data, traceparent FROM records"
        " WHERE stream_serial = ? AND shard_index = ? AND counter > ? AND arrival_ms >= ?"
        " ORDER BY counter LIMIT ?",
        (row.serial, shard_index, after_counter, cutoff_ms, limit),
    )
    shard = keys.shard_id(shard_index)
    records: list[StreamRecord] = []
    total_bytes = 0
    for counter, arrival_ms, partition_key, data, traceparent in cursor:
        if records and total_bytes + len(data) > MAX_READ_BYTES:
            break
        total_bytes += len(data)
        records.append(
            StreamRecord(
                sequence_number=keys.encode_sequence_number(row.serial, counter, shard_index),
                approximate_arrival_timestamp=arrival_ms / 1000,
                data=bytes(data),
                partition_key=partition_key,
                shard_id=shard,
                traceparent=traceparent,
            )
        )
    cursor.close()
    return records
