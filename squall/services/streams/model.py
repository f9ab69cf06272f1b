"""The stream service's interface, records and input checks.

A stream follows Kinesis Data Streams: records go to shards by the hash of
their partition key, each shard keeps its records in sequence-number order,
and records older than the stream's retention period disappear. Every
backend implements `StreamStore`. The limits below are Kinesis's documented
ones, except where a NOTE gives another source.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, TypeGuard

from squall.services.errors import LimitExceeded
from squall.services.streams.errors import InvalidArgument
from squall.services.streams.keys import MAX_HASH_KEY

MAX_STREAM_NAME_LENGTH = 128
MIN_SHARD_COUNT = 1
# NOTE: 500 is Kinesis's default shard quota per account in us-east-1, not a
# hard limit of the API, and Squall takes it as the ceiling per stream.
MAX_SHARD_COUNT = 500
MIN_RETENTION_H = 24
MAX_RETENTION_H = 8760
MAX_PARTITION_KEY_LENGTH = 256
MAX_RECORD_BYTES = 1024 * 1024
MAX_PUT_RECORDS_COUNT = 500
MAX_PUT_RECORDS_BYTES = 5 * 1024 * 1024
MAX_READ_LIMIT = 10_000
# A read stops adding records once their data passes this total, as one
# Kinesis GetRecords call returns at most 10 MiB.
MAX_READ_BYTES = 10 * 1024 * 1024
MAX_CONSUMER_NAME_LENGTH = 256

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "000000000000"

_STREAM_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,128}")
_EXPLICIT_HASH_KEY = re.compile(r"0|[1-9][0-9]{0,38}")
_CONSUMER_NAME = re.compile(r"[!-~]{1,256}")


class StreamStatus(enum.Enum):
    """Lifecycle state of a stream, as Kinesis names it.

    Squall creates and deletes streams synchronously, so a stream it
    describes is always ACTIVE; the other states exist for API parity.
    """

    CREATING = "CREATING"
    ACTIVE = "ACTIVE"
    DELETING = "DELETING"


class PositionType(enum.Enum):
    """Kind of starting point for a read in a shard, named after Kinesis's shard iterator types."""

    TRIM_HORIZON = "TRIM_HORIZON"
    LATEST = "LATEST"
    AT_SEQUENCE_NUMBER = "AT_SEQUENCE_NUMBER"
    AFTER_SEQUENCE_NUMBER = "AFTER_SEQUENCE_NUMBER"
    AT_TIMESTAMP = "AT_TIMESTAMP"


_SEQUENCE_TYPES = (PositionType.AT_SEQUENCE_NUMBER, PositionType.AFTER_SEQUENCE_NUMBER)


@dataclass(frozen=True)
class Position:
    """A place in a shard to read from; the stream-store counterpart of a shard iterator.

    AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER carry `sequence_number`,
    AT_TIMESTAMP carries `timestamp` (epoch seconds), and the others carry
    neither. Use the class methods to build one.
    """

    type: PositionType
    sequence_number: str | None = None
    timestamp: float | None = None

    def __post_init__(self) -> None:
        if self.type in _SEQUENCE_TYPES:
            check_sequence_number(self.sequence_number)
        elif self.sequence_number is not None:
            raise InvalidArgument(f"position {self.type.value} takes no sequence number, got {self.sequence_number!r}")

        if self.type is PositionType.AT_TIMESTAMP:
            if not _is_real_number(self.timestamp) or not math.isfinite(self.timestamp) or self.timestamp < 0:
                raise InvalidArgument(
                    f"position AT_TIMESTAMP: timestamp {self.timestamp!r} is invalid:"
                    " use epoch seconds as a finite number of 0 or more"
                )
        elif self.timestamp is not None:
            raise InvalidArgument(f"position {self.type.value} takes no timestamp, got {self.timestamp!r}")

    @classmethod
    def trim_horizon(cls) -> Position:
        """Position at the oldest record the shard still keeps."""
        return cls(PositionType.TRIM_HORIZON)

    @classmethod
    def latest(cls) -> Position:
        """Position just after the newest record, so a read returns only records put later."""
        return cls(PositionType.LATEST)

    @classmethod
    def at_sequence_number(cls, sequence_number: str) -> Position:
        """Position at the record with `sequence_number`, or the next one kept after it."""
        return cls(PositionType.AT_SEQUENCE_NUMBER, sequence_number=sequence_number)

    @classmethod
    def after_sequence_number(cls, sequence_number: str) -> Position:
        """Position just after the record with `sequence_number`."""
        return cls(PositionType.AFTER_SEQUENCE_NUMBER, sequence_number=sequence_number)

    @classmethod
    def at_timestamp(cls, timestamp: float) -> Position:
        """Position at the first record that arrived at or after `timestamp` (epoch seconds)."""
        return cls(PositionType.AT_TIMESTAMP, timestamp=timestamp)


@dataclass(frozen=True)
class Shard:
    """One shard of a stream: its id, its hash key range and its first sequence number.

    Hash keys are decimal strings, as Kinesis's DescribeStream returns them.
    """

    shard_id: str
    starting_hash_key: str
    ending_hash_key: str
    starting_sequence_number: str


@dataclass(frozen=True)
class StreamDescription:
    """A stream's settings and shards."""

    name: str
    status: StreamStatus
    shard_count: int
    retention_h: int
    created_at: float
    shards: tuple[Shard, ...]


@dataclass(frozen=True)
class StreamRecord:
    """A record as a read returns it; `approximate_arrival_timestamp` is epoch seconds with milliseconds.

    `traceparent` is the W3C trace context of the put that wrote the record,
    or None. It is Squall's own and never part of the record's Kinesis form.
    """

    sequence_number: str
    approximate_arrival_timestamp: float
    data: bytes
    partition_key: str
    shard_id: str
    traceparent: str | None = None


class PutRecordResult(NamedTuple):
    """Shard and sequence number that `put_record` assigned to a record."""

    shard_id: str
    sequence_number: str


@dataclass(frozen=True)
class PutRecordsEntry:
    """One record of a `put_records` request."""

    data: bytes
    partition_key: str
    explicit_hash_key: str | None = None


@dataclass(frozen=True)
class PutRecordsResultEntry:
    """The outcome of one `put_records` entry: a shard and sequence number, or an error."""

    shard_id: str | None = None
    sequence_number: str | None = None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def failed(self) -> bool:
        """Whether this entry was rejected."""
        return self.error_code is not None


@dataclass(frozen=True)
class PutRecordsResult:
    """The outcome of a `put_records` request, one entry per record in request order."""

    failed_record_count: int
    records: tuple[PutRecordsResultEntry, ...]


@dataclass(frozen=True)
class ReadResult:
    """Records from one read, and the position to pass to the next read.

    `next_position` is always concrete: after records it is
    AFTER_SEQUENCE_NUMBER of the last one, and a LATEST read that found none
    returns the AFTER_SEQUENCE_NUMBER position that stands for "now", so a
    consumer can store it and miss nothing put later.
    """

    records: tuple[StreamRecord, ...]
    next_position: Position


class StreamStore(Protocol):
    """The stream service's operations; every backend implements them.

    Each method that changes data commits before it returns. Methods raise
    `ResourceNotFound` for an unknown stream or shard, `InvalidArgument` or
    `LimitExceeded` for bad input, and `StorageFull` when the disk is full.
    """

    def create_stream(self, name: str, shard_count: int = 1, retention_h: int = 24) -> StreamDescription:
        """Create a stream, or return the existing one if it has the same settings."""
        ...

    def describe_stream(self, name: str) -> StreamDescription:
        """Return a stream's settings and shards."""
        ...

    def list_streams(self) -> list[str]:
        """Return the names of all streams, sorted."""
        ...

    def delete_stream(self, name: str) -> None:
        """Delete a stream with its records and its consumers' checkpoints."""
        ...

    def put_record(
        self,
        stream: str,
        data: bytes,
        partition_key: str,
        explicit_hash_key: str | None = None,
        *,
        traceparent: str | None = None,
    ) -> PutRecordResult:
        """Append one record to the shard its hash key maps to, keeping `traceparent` beside it."""
        ...

    def put_records(
        self, stream: str, records: Sequence[PutRecordsEntry], *, traceparent: str | None = None
    ) -> PutRecordsResult:
        """Append up to 500 records, each with `traceparent`; an invalid record rejects the whole request."""
        ...

    def read(self, stream: str, shard_id: str, position: Position, limit: int = MAX_READ_LIMIT) -> ReadResult:
        """Return up to `limit` records of one shard from `position` on, in sequence-number order."""
        ...

    def trim(self) -> int:
        """Delete the records older than their stream's retention period; return how many."""
        ...

    def save_checkpoint(self, consumer: str, stream: str, shard_id: str, sequence_number: str) -> None:
        """Store the sequence number of the last record `consumer` processed in a shard."""
        ...

    def load_checkpoint(self, consumer: str, stream: str, shard_id: str) -> str | None:
        """Return the sequence number saved by `save_checkpoint`, or None if there is none."""
        ...

    def close(self) -> None:
        """Release the backend's connections; the store cannot be used afterwards."""
        ...


def stream_arn(name: str, region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID) -> str:
    """Format a stream's ARN as Kinesis does."""
    return f"arn:aws:kinesis:{region}:{account_id}:stream/{name}"


def check_stream_name(name: object) -> str:
    """Return `name` if it is a valid stream name, else raise InvalidArgument."""
    if not isinstance(name, str) or _STREAM_NAME.fullmatch(name) is None:
        raise InvalidArgument(
            f"stream name {name!r} is invalid: use 1 to {MAX_STREAM_NAME_LENGTH} characters"
            " from A-Z, a-z, 0-9, '_', '.' and '-'"
        )
    return name


def check_stream_settings(shard_count: object, retention_h: object) -> None:
    """Raise InvalidArgument unless the shard count and retention period are within Kinesis's limits."""
    if not _is_integer(shard_count) or not MIN_SHARD_COUNT <= shard_count <= MAX_SHARD_COUNT:
        raise InvalidArgument(
            f"shard count {shard_count!r} is invalid: use an integer from {MIN_SHARD_COUNT} to {MAX_SHARD_COUNT}"
        )
    if not _is_integer(retention_h) or not MIN_RETENTION_H <= retention_h <= MAX_RETENTION_H:
        raise InvalidArgument(
            f"retention period {retention_h!r} is invalid: use a whole number of hours"
            f" from {MIN_RETENTION_H} to {MAX_RETENTION_H}"
        )


def check_record(data: object, partition_key: object, explicit_hash_key: object) -> int | None:
    """Raise InvalidArgument or LimitExceeded for a bad record; return its explicit hash key as an integer."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidArgument(f"record data must be bytes, got {type(data).__name__}")
    if not isinstance(partition_key, str) or not 1 <= len(partition_key) <= MAX_PARTITION_KEY_LENGTH:
        length = f" ({len(partition_key)} characters)" if isinstance(partition_key, str) else ""
        raise InvalidArgument(
            f"partition key {_shorten(partition_key)!r}{length} is invalid:"
            f" use a string of 1 to {MAX_PARTITION_KEY_LENGTH} characters"
        )

    try:
        partition_key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument(
            f"partition key {_shorten(partition_key)!r} is invalid: it contains a lone surrogate,"
            " which UTF-8 cannot encode"
        ) from None

    size = record_size(data, partition_key)
    if size > MAX_RECORD_BYTES:
        raise LimitExceeded(
            f"record with partition key {_shorten(partition_key)!r} is {size} bytes (data plus partition key),"
            f" over the limit of {MAX_RECORD_BYTES} bytes (1 MiB)"
        )

    if explicit_hash_key is None:
        return None
    if not isinstance(explicit_hash_key, str) or _EXPLICIT_HASH_KEY.fullmatch(explicit_hash_key) is None:
        raise InvalidArgument(
            f"explicit hash key {explicit_hash_key!r} is invalid: use a decimal integer from 0 to {MAX_HASH_KEY}"
        )
    value = int(explicit_hash_key)
    if value > MAX_HASH_KEY:
        raise InvalidArgument(
            f"explicit hash key {explicit_hash_key!r} is invalid: use a decimal integer from 0 to {MAX_HASH_KEY}"
        )
    return value


def record_size(data: bytes | bytearray | memoryview, partition_key: str) -> int:
    """Return the bytes a record counts against Kinesis's limits: data plus UTF-8 partition key."""
    # surrogatepass keeps the count defined for a key that check_record rejects later.
    return memoryview(data).nbytes + len(partition_key.encode("utf-8", "surrogatepass"))


def check_put_records_batch(records: Sequence[PutRecordsEntry]) -> list[int | None]:
    """Check a whole `put_records` request before any record is stored; return each explicit hash key.

    Kinesis validates a PutRecords request as a whole, so one invalid record
    rejects the request. An empty request raises InvalidArgument, one over 500
    records or 5 MiB in all raises LimitExceeded, and an invalid record raises
    what `check_record` raises, with the record's index in the message.
    """
    count = len(records)
    if count == 0:
        raise InvalidArgument(f"put_records needs 1 to {MAX_PUT_RECORDS_COUNT} records, got 0")
    if count > MAX_PUT_RECORDS_COUNT:
        raise LimitExceeded(f"put_records got {count} records, over the limit of {MAX_PUT_RECORDS_COUNT}")

    hash_keys: list[int | None] = []
    total = 0
    for index, entry in enumerate(records):
        if not isinstance(entry, PutRecordsEntry):
            raise InvalidArgument(f"put_records entry {index} must be a PutRecordsEntry, got {type(entry).__name__}")
        try:
            hash_keys.append(check_record(entry.data, entry.partition_key, entry.explicit_hash_key))
        except (InvalidArgument, LimitExceeded) as exc:
            raise type(exc)(f"put_records stored no record because records[{index}] is invalid: {exc.message}") from None
        total += record_size(entry.data, entry.partition_key)
    if total > MAX_PUT_RECORDS_BYTES:
        raise LimitExceeded(
            f"put_records got {total} bytes of data and partition keys, over the limit of"
            f" {MAX_PUT_RECORDS_BYTES} bytes (5 MiB)"
        )
    return hash_keys


def check_sequence_number(sequence_number: object) -> str:
    """Return `sequence_number` if it is a decimal digit string, else raise InvalidArgument."""
    if not isinstance(sequence_number, str) or not sequence_number.isascii() or not sequence_number.isdigit():
        raise InvalidArgument(
            f"sequence number {sequence_number!r} is invalid: use the decimal string a put or read returned"
        )
    return sequence_number


def check_read_limit(limit: object) -> int:
    """Return `limit` if it is a valid record count for one read, else raise InvalidArgument."""
    if not _is_integer(limit) or not 1 <= limit <= MAX_READ_LIMIT:
        raise InvalidArgument(f"read limit {limit!r} is invalid: use an integer from 1 to {MAX_READ_LIMIT}")
    return limit


def check_consumer_name(consumer: object) -> str:
    """Return `consumer` if it is a valid consumer name, else raise InvalidArgument."""
    if not isinstance(consumer, str) or _CONSUMER_NAME.fullmatch(consumer) is None:
        raise InvalidArgument(
            f"consumer name {consumer!r} is invalid: use 1 to {MAX_CONSUMER_NAME_LENGTH} printable"
            " ASCII characters without spaces"
        )
    return consumer


def _is_integer(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shorten(value: object) -> object:
    """Cut a long string for an error message, so a 300-character key does not flood the log."""
    if isinstance(value, str) and len(value) > 40:
        return value[:40] + "..."
    return value
