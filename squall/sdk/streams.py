"""Streams in the SDK: put records into a Squall stream and read them back by shard.

A stream keeps records in shards, ordered by sequence number, as Kinesis
Data Streams does. A read starts at a position and returns the next position
to read from, which is a plain JSON-ready dict, so a consumer can store it
and resume later::

    from squall.sdk.streams import Stream, create_stream

    clicks = create_stream("clicks", shards=2)
    clicks.put(b'{"page": "/"}', partition_key="user-7")
    for record in clicks.iterate("shardId-000000000000"):
        print(record.sequence_number, record.data)

Errors from the server raise `squall.sdk.RemoteError` with the server's
code, such as ResourceNotFoundException for an unknown stream.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from squall.sdk.client import Client, default_client

SERVICE = "streams"
TRIM_HORIZON = "TRIM_HORIZON"
LATEST = "LATEST"
# Kinesis's GetRecords returns at most 10,000 records per call, and so does a read.
MAX_READ_LIMIT = 10_000

_SHORTHAND_POSITIONS = (TRIM_HORIZON, LATEST)


class Position(TypedDict, total=False):
    """A place in a shard to read from, in the JSON form the server uses.

    `type` is TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER
    or AT_TIMESTAMP; the sequence number types carry `sequence_number` and
    AT_TIMESTAMP carries `timestamp` (epoch seconds).
    """

    type: str
    sequence_number: str
    timestamp: float


def at_sequence_number(sequence_number: str) -> Position:
    """Position at the record with `sequence_number`, or the next one still kept."""
    return {"type": "AT_SEQUENCE_NUMBER", "sequence_number": sequence_number}


def after_sequence_number(sequence_number: str) -> Position:
    """Position just after the record with `sequence_number`."""
    return {"type": "AFTER_SEQUENCE_NUMBER", "sequence_number": sequence_number}


def at_timestamp(timestamp: float) -> Position:
    """Position at the first record that arrived at or after `timestamp` (epoch seconds)."""
    return {"type": "AT_TIMESTAMP", "timestamp": timestamp}


@dataclass(frozen=True)
class Record:
    """One record read from a shard; `approximate_arrival_timestamp` is epoch seconds."""

    sequence_number: str
    partition_key: str
    data: bytes
    approximate_arrival_timestamp: float
    shard_id: str


@dataclass(frozen=True)
class ReadResult:
    """The records of one read and the position to pass to the next read."""

    records: tuple[Record, ...]
    next_position: Position


@dataclass(frozen=True)
class PutResult:
    """Shard and sequence number the server assigned to a record."""

    shard_id: str
    sequence_number: str


@dataclass(frozen=True)
class PutManyEntry:
    """The outcome of one record of `put_many`: a shard and sequence number, or an error."""

    shard_id: str | None
    sequence_number: str | None
    error_code: str | None
    error_message: str | None

    @property
    def failed(self) -> bool:
        """Whether the server rejected this record."""
        return self.error_code is not None


@dataclass(frozen=True)
class PutManyResult:
    """The outcome of `put_many`, one entry per record in the order given."""

    failed_record_count: int
    records: tuple[PutManyEntry, ...]


@dataclass(frozen=True)
class Shard:
    """One shard: its id, its hash key range (decimal strings) and its first sequence number."""

    shard_id: str
    starting_hash_key: str
    ending_hash_key: str
    starting_sequence_number: str


@dataclass(frozen=True)
class StreamDescription:
    """A stream's settings and shards; `created_at` is epoch seconds."""

    name: str
    status: str
    shard_count: int
    retention_h: int
    created_at: float
    shards: tuple[Shard, ...]


class Stream:
    """A handle on one stream of a Squall server; creating it sends no request.

    Example::

        orders = Stream("orders")
        receipt = orders.put("order 17 paid", partition_key="17")
        print(receipt.shard_id, receipt.sequence_number)
    """

    def __init__(self, name: str, client: Client | None = None) -> None:
        self.name = name
        self.client = client if client is not None else default_client()

    def __repr__(self) -> str:
        return f"Stream({self.name!r}, endpoint={self.client.endpoint!r})"

    def describe(self) -> StreamDescription:
        """Return the stream's settings and shards.

        Example::

            shard_ids = [shard.shard_id for shard in Stream("orders").describe().shards]
        """
        return _description(self._call("describe_stream"))

    def delete(self) -> None:
        """Delete the stream with all its records."""
        self._call("delete_stream")

    def put(self, data: bytes | str, partition_key: str, explicit_hash_key: str | None = None) -> PutResult:
        """Append one record; a str is sent as UTF-8.

        The partition key's MD5 hash picks the shard, unless
        `explicit_hash_key` (a decimal integer below 2**128) is given.

        Example::

            Stream("orders").put(b"\\x00\\x01", partition_key="customer-3")
        """
        result = self._call(
            "put_record",
            data=_encode(data, "data"),
            partition_key=partition_key,
            explicit_hash_key=explicit_hash_key,
        )
        return PutResult(shard_id=result["shard_id"], sequence_number=result["sequence_number"])

    def put_many(self, records: Iterable[Mapping[str, Any] | tuple[bytes | str, str]]) -> PutManyResult:
        """Append up to 500 records in one request.

        A record is a `(data, partition_key)` tuple or a mapping with `data`,
        `partition_key` and optionally `explicit_hash_key`. An invalid record
        (such as an empty partition key) rejects the whole request with a
        RemoteError that names its index, and no record is stored.
        `failed_record_count` and each entry's `failed` follow Kinesis, where a
        single record fails only for throttling or an internal error. Squall's
        store has neither, so they are 0 and false here, and code that retries
        the failed entries still runs unchanged on Kinesis.

        Example::

            result = Stream("orders").put_many([(b"a", "1"), {"data": "b", "partition_key": "2"}])
            retry = [entry for entry in result.records if entry.failed]
        """
        entries = [_entry(index, record) for index, record in enumerate(records)]
        result = self._call("put_records", records=entries)
        return PutManyResult(
            failed_record_count=result["failed_record_count"],
            records=tuple(_put_many_entry(entry) for entry in result["records"]),
        )

    def read(self, shard_id: str, position: str | Mapping[str, Any] = TRIM_HORIZON, limit: int = MAX_READ_LIMIT) -> ReadResult:
        """Read up to `limit` records of one shard from `position` on.

        `position` is "TRIM_HORIZON" (the oldest record kept), "LATEST" (only
        records put later), or a Position dict such as the `next_position`
        of an earlier read.

        Example::

            page = Stream("orders").read("shardId-000000000000", limit=100)
            later = Stream("orders").read("shardId-000000000000", page.next_position)
        """
        result = self._call("read", shard_id=shard_id, position=_position(position), limit=limit)
        return ReadResult(
            records=tuple(_record(record) for record in result["records"]),
            next_position=result["next_position"],
        )

    def iterate(
        self, shard_id: str, from_position: str | Mapping[str, Any] = TRIM_HORIZON, limit: int = MAX_READ_LIMIT
    ) -> Iterator[Record]:
        """Yield the records of one shard from `from_position` on, reading until a read returns none.

        Each read requests up to `limit` records. Records put while the
        iteration runs are yielded too, so a stream that never stops getting
        records never ends the iteration.

        Example::

            for record in Stream("orders").iterate("shardId-000000000000"):
                print(record.data)
        """
        position: str | Mapping[str, Any] = from_position
        while True:
            page = self.read(shard_id, position, limit=limit)
            if not page.records:
                return
            yield from page.records
            position = page.next_position

    def _call(self, operation: str, **arguments: Any) -> Any:
        return self.client.call(SERVICE, operation, stream=self.name, **arguments)


def create_stream(name: str, shards: int = 1, retention_h: int = 24, client: Client | None = None) -> Stream:
    """Create a stream, or find the existing one with the same settings, and return its handle.

    `retention_h` is how many hours records are kept (24 to 8760). A stream
    of that name with other settings raises RemoteError with the code
    ResourceInUseException.

    Example::

        events = create_stream("events", shards=4)
    """
    stream = Stream(name, client)
    stream.client.call(SERVICE, "create_stream", stream=name, shard_count=shards, retention_h=retention_h)
    return stream


def list_streams(client: Client | None = None) -> list[str]:
    """Return the names of all streams, sorted."""
    result = (client if client is not None else default_client()).call(SERVICE, "list_streams")
    return list(result["streams"])


def _encode(data: bytes | str, where: str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"record {where} must be bytes or str, got {type(data).__name__}")
    return base64.b64encode(bytes(data)).decode("ascii")


def _entry(index: int, record: Mapping[str, Any] | tuple[bytes | str, str]) -> dict[str, Any]:
    where = f"records[{index}]"
    if isinstance(record, tuple):
        if len(record) != 2:
            raise TypeError(f"{where} is a tuple of {len(record)} items, expected (data, partition_key)")
        data, partition_key = record
        return {"data": _encode(data, f"{where} data"), "partition_key": partition_key}
    if not isinstance(record, Mapping):
        raise TypeError(f"{where} is a {type(record).__name__}, expected a (data, partition_key) tuple or a mapping")

    if "data" not in record:
        keys = ", ".join(repr(key) for key in record) or "none"
        raise TypeError(f"{where} has no 'data': expected data, partition_key and optionally explicit_hash_key, got {keys}")
    # Other keys go to the server as they are, which rejects them by name.
    entry = {**record, "data": _encode(record.get("data"), f"{where} data"), "partition_key": record.get("partition_key")}
    if entry.get("explicit_hash_key") is None:
        entry.pop("explicit_hash_key", None)
    return entry


def _position(position: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(position, str):
        shorthand = position.upper()
        if shorthand not in _SHORTHAND_POSITIONS:
            raise ValueError(
                f"position {position!r} is invalid: use 'TRIM_HORIZON', 'LATEST' or a Position dict"
                " such as at_sequence_number(...)"
            )
        return {"type": shorthand}
    return dict(position)


def _record(value: Mapping[str, Any]) -> Record:
    return Record(
        sequence_number=value["sequence_number"],
        partition_key=value["partition_key"],
        data=base64.b64decode(value["data"]),
        approximate_arrival_timestamp=value["approximate_arrival_timestamp"],
        shard_id=value["shard_id"],
    )


def _put_many_entry(value: Mapping[str, Any]) -> PutManyEntry:
    return PutManyEntry(
        shard_id=value.get("shard_id"),
        sequence_number=value.get("sequence_number"),
        error_code=value.get("error_code"),
        error_message=value.get("error_message"),
    )


def _description(value: Mapping[str, Any]) -> StreamDescription:
    return StreamDescription(
        name=value["name"],
        status=value["status"],
        shard_count=value["shard_count"],
        retention_h=value["retention_h"],
        created_at=value["created_at"],
        shards=tuple(
            Shard(
                shard_id=shard["shard_id"],
                starting_hash_key=shard["starting_hash_key"],
                ending_hash_key=shard["ending_hash_key"],
                starting_sequence_number=shard["starting_sequence_number"],
            )
            for shard in value["shards"]
        ),
    )
