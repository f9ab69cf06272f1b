"""The stream service's operations as the HTTP API runs them.

Every operation names its stream in the `stream` argument. Record data
travels as base64, and a read position travels as a JSON object such as
`{"type": "AFTER_SEQUENCE_NUMBER", "sequence_number": "49..."}`. A read
returns its `next_position` in that same form, so a consumer can pass it back
unchanged.

The puts in `TRACED` also take the caller's W3C `traceparent`, which the hub
passes as a third argument and the store keeps beside each record. A read
never returns it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from squall.services.args import Args, to_json
from squall.services.streams.errors import InvalidArgument
from squall.services.streams.model import (
    MAX_READ_LIMIT,
    Position,
    PositionType,
    PutRecordsEntry,
    StreamRecord,
    StreamStore,
)

RESOURCE_ARGUMENT = "stream"
WRITES = {"put_record", "put_records"}
TRACED = {"put_record", "put_records"}

DEFAULT_SHARD_COUNT = 1
DEFAULT_RETENTION_H = 24

_POSITION_KEYS = ("type", "sequence_number", "timestamp")
_POSITION_TYPES = ", ".join(kind.value for kind in PositionType)
_SEQUENCE_TYPES = (PositionType.AT_SEQUENCE_NUMBER, PositionType.AFTER_SEQUENCE_NUMBER)


def create_stream(store: StreamStore, args: Args) -> Any:
    """Create a stream, or return the existing one when its settings match."""
    return store.create_stream(
        args.text("stream"),
        shard_count=args.integer("shard_count", DEFAULT_SHARD_COUNT),
        retention_h=args.integer("retention_h", DEFAULT_RETENTION_H),
    )


def describe_stream(store: StreamStore, args: Args) -> Any:
    """Return a stream's settings and its shards with their hash key ranges."""
    return store.describe_stream(args.text("stream"))


def list_streams(store: StreamStore, args: Args) -> Any:
    """Return `{"streams": [names, sorted]}`."""
    return {"streams": store.list_streams()}


def delete_stream(store: StreamStore, args: Args) -> Any:
    """Delete a stream with its records."""
    name = args.text("stream")
    store.delete_stream(name)
    return {"deleted": name}


def put_record(store: StreamStore, args: Args, traceparent: str | None = None) -> Any:
    """Append one record; return the shard id and sequence number it got."""
    result = store.put_record(
        args.text("stream"),
        args.binary("data"),
        args.text("partition_key"),
        args.text("explicit_hash_key", None),
        traceparent=traceparent,
    )
    # PutRecordResult is a NamedTuple, which to_json would turn into a list.
    return result._asdict()


def put_records(store: StreamStore, args: Args, traceparent: str | None = None) -> Any:
    """Append a batch of records; one invalid record rejects the whole batch, as in Kinesis."""
    stream = args.text("stream")
    entries = [_put_records_entry(index, value) for index, value in enumerate(args.sequence("records"))]
    return store.put_records(stream, entries, traceparent=traceparent)


def read(store: StreamStore, args: Args) -> Any:
    """Return up to `limit` records of one shard from `position` on, and the position to read from next.

    `position` defaults to TRIM_HORIZON and `limit` to MAX_READ_LIMIT (10,000).
    """
    position = parse_position(args.mapping("position", {"type": PositionType.TRIM_HORIZON.value}))
    result = store.read(
        args.text("stream"),
        args.text("shard_id"),
        position,
        args.integer("limit", MAX_READ_LIMIT),
    )
    return {
        "records": [record_to_json(record) for record in result.records],
        "next_position": position_to_json(result.next_position),
    }


def record_to_json(record: StreamRecord) -> dict[str, Any]:
    """Return the JSON form of a record as a read returns it, without the trace context stored beside it."""
    return {
        "sequence_number": record.sequence_number,
        "approximate_arrival_timestamp": record.approximate_arrival_timestamp,
        "data": to_json(record.data),
        "partition_key": record.partition_key,
        "shard_id": record.shard_id,
    }


def parse_position(value: Mapping[str, Any]) -> Position:
    """Build a Position from its JSON form, or raise InvalidArgument naming the bad field."""
    unknown = sorted(set(value) - set(_POSITION_KEYS))
    if unknown:
        raise InvalidArgument(
            f"read: position has unknown fields {', '.join(map(repr, unknown))}: use {', '.join(_POSITION_KEYS)}"
        )

    kind = value.get("type")
    try:
        position_type = PositionType(kind)
    except ValueError:
        raise InvalidArgument(f"read: position type {kind!r} is invalid: use one of {_POSITION_TYPES}") from None

    if position_type in _SEQUENCE_TYPES and value.get("sequence_number") is None:
        raise InvalidArgument(
            f"read: position {position_type.value} needs a sequence_number: use one that a put or read returned"
        )
    if position_type is PositionType.AT_TIMESTAMP and value.get("timestamp") is None:
        raise InvalidArgument("read: position AT_TIMESTAMP needs a timestamp: use epoch seconds as a number")

    args = Args("read: position", value)
    # Position's own checks reject a field that does not belong to the type.
    return Position(
        position_type,
        sequence_number=args.text("sequence_number", None),
        timestamp=args.number("timestamp", None),
    )


def position_to_json(position: Position) -> dict[str, Any]:
    """Return the JSON form of a position, without the fields its type does not use."""
    encoded: dict[str, Any] = {"type": position.type.value}
    if position.sequence_number is not None:
        encoded["sequence_number"] = position.sequence_number
    if position.timestamp is not None:
        encoded["timestamp"] = position.timestamp
    return encoded


def _put_records_entry(index: int, value: Any) -> PutRecordsEntry:
    # A malformed entry fails the whole request here. The store then rejects
    # the whole request for an entry with a bad value, as Kinesis does.
    where = f"put_records: records[{index}]"
    if not isinstance(value, dict):
        raise InvalidArgument(
            f"{where} is {value!r}, expected a JSON object with data, partition_key and optionally explicit_hash_key"
        )
    entry = Args(where, value)
    entry.only("data", "partition_key", "explicit_hash_key")
    return PutRecordsEntry(
        data=entry.binary("data"),
        partition_key=entry.text("partition_key"),
        explicit_hash_key=entry.text("explicit_hash_key", None),
    )


OPERATIONS: dict[str, Callable[[StreamStore, Args], Any]] = {
    "create_stream": create_stream,
    "describe_stream": describe_stream,
    "list_streams": list_streams,
    "delete_stream": delete_stream,
    "put_record": put_record,
    "put_records": put_records,
    "read": read,
}

# The arguments each operation reads; the hub rejects any other name before the call.
ARGUMENTS = {
    "create_stream": ('retention_h', 'shard_count', 'stream'),
    "describe_stream": ('stream',),
    "list_streams": (),
    "delete_stream": ('stream',),
    "put_record": ('data', 'explicit_hash_key', 'partition_key', 'stream'),
    "put_records": ('records', 'stream'),
    "read": ('limit', 'position', 'shard_id', 'stream'),
}
