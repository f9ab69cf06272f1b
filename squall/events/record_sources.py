"""Record sources of stream and table-stream triggers: reading, checkpoints and failed-batch descriptions.

A source is one ordered sequence of records: one shard of a stream, or the
change stream of a table. It reads from just after its checkpoint, saves the
checkpoint after each handled batch, builds the event the function receives,
and builds the batch description (KinesisBatchInfo or DDBStreamBatchInfo)
that an on-failure destination receives. The size of an event, which every
trigger keeps within Lambda's payload limit, is measured here too.
"""

from __future__ import annotations

import abc
import enum
import logging
import sqlite3
import threading
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from squall.events.filters import dynamodb_filter_view, kinesis_filter_view
from squall.runtime.protocol import MAX_REQUEST_BYTES
from squall.services.hub import ServiceHub

logger = logging.getLogger(__name__)

# Lambda delivers a trigger's batch in one call of at most the 6 MB payload
# limit of synchronous invocation (Lambda API reference, BatchSize of
# CreateEventSourceMapping), so the JSON of one event stays within it.
MAX_EVENT_BYTES = MAX_REQUEST_BYTES
# The JSON of an event without records, {"Records":[]}, as orjson writes it.
EMPTY_EVENT_BYTES = len(orjson.dumps({"Records": []}))

# DynamoDB Streams keeps change records for 24 hours; Squall's table store
# keeps them longer, so a table source applies this limit itself.
TABLE_STREAM_RETENTION_S = 24 * 3600
# The table store returns at most this many change records per call.
TABLE_CHANGES_PER_CALL = 1000


class StartingPosition(enum.Enum):
    """The starting point of a trigger that has no checkpoint yet, as the manifest spells it."""

    LATEST = "latest"
    TRIM_HORIZON = "trim_horizon"


@dataclass(frozen=True)
class SourceRecord:
    """One record of a source: its sequence number, arrival time (epoch seconds) and the store's record.

    `traceparent` is the W3C trace context its writer sent, or None.
    """

    sequence_number: str
    arrival_s: float
    item: Any  # a StreamRecord or a tables Change
    traceparent: str | None = None


class RecordSource(abc.ABC):
    """One ordered sequence of records that a single poller consumes."""

    service: str  # the hub service whose changes wake the poller
    resource: str  # the stream or table name
    shard_id: str
    source_arn: str
    batch_info_key: str  # "KinesisBatchInfo" or "DDBStreamBatchInfo"
    retention_s: float

    @abc.abstractmethod
    async def open(self) -> None:
        """Load the checkpoint, or pin the starting position when there is none."""

    @abc.abstractmethod
    async def read(self, limit: int) -> list[SourceRecord]:
        """Return up to `limit` records after the checkpoint, oldest first."""

    @abc.abstractmethod
    async def checkpoint(self, record: SourceRecord) -> None:
        """Save `record` as the last one handled; later reads start after it."""

    @abc.abstractmethod
    def event(self, records: Sequence[SourceRecord]) -> dict[str, Any]:
        """Build the Lambda event for a batch."""

    @abc.abstractmethod
    def batch_info(self, records: Sequence[SourceRecord]) -> dict[str, Any]:
        """Describe a batch for an on-failure destination record."""

    @abc.abstractmethod
    def filter_view(self, event_record: Mapping[str, Any]) -> Mapping[str, Any]:
        """Return a record of the event as Lambda's filter patterns see it."""

    def describe(self) -> str:
        """Name the source for log lines."""
        return f"{self.service[:-1]} {self.resource} shard {self.shard_id}"


def added_event_bytes(event_record: Mapping[str, Any], position: int) -> int:
    """Return how many bytes a record adds to the JSON of a {"Records": [...]} event at `position` (0 is the first)."""
    separator = 1 if position else 0
    return len(orjson.dumps(event_record)) + separator


def count_within_payload_limit(event_records: Sequence[Mapping[str, Any]], limit: int = MAX_EVENT_BYTES) -> int:
    """Return how many leading records fit in an event of at most `limit` bytes of JSON, which is 0 when the first cannot."""
    if len(orjson.dumps({"Records": event_records})) <= limit:
        return len(event_records)  # the common case, in one call
    size = EMPTY_EVENT_BYTES
    for position, event_record in enumerate(event_records):
        size += added_event_bytes(event_record, position)
        if size > limit:
            return position
    return len(event_records)


# Streams


class StreamShardSource(RecordSource):
    """One shard of a stream; the checkpoint lives in the stream store under the function's name."""

    service = "streams"
    batch_info_key = "KinesisBatchInfo"

    def __init__(
        self,
        hub: ServiceHub,
        function: str,
        stream: str,
        shard_id: str,
        retention_h: int,
        starting_position: StartingPosition,
    ) -> None:
        from squall.services.streams import stream_arn

        self._hub = hub
        self._store = hub.store("streams")
        self._consumer = function
        self.resource = stream
        self.shard_id = shard_id
        self.source_arn = stream_arn(stream, hub.region, hub.account)
        self.retention_s = retention_h * 3600.0
        self._starting_position = starting_position
        self._after: str | None = None  # None: from the trim horizon

    async def open(self) -> None:
        from squall.services.streams import Position

        saved = await self._hub.run(self._store.load_checkpoint, self._consumer, self.resource, self.shard_id)
        if saved is not None:
            self._after = saved
            return
        if self._starting_position is StartingPosition.TRIM_HORIZON:
            self._after = None
            return

        # A LATEST read returns the position that stands for "now"; saving it
        # at once keeps records put while the server is down after a restart.
        result = await self._hub.run(self._store.read, self.resource, self.shard_id, Position.latest(), 1)
        now = result.next_position.sequence_number
        await self._hub.run(self._store.save_checkpoint, self._consumer, self.resource, self.shard_id, now)
        self._after = now

    async def read(self, limit: int) -> list[SourceRecord]:
        from squall.services.streams import MAX_READ_LIMIT, Position

        position = Position.trim_horizon() if self._after is None else Position.after_sequence_number(self._after)
        result = await self._hub.run(
            self._store.read, self.resource, self.shard_id, position, min(limit, MAX_READ_LIMIT)
        )
        return [
            SourceRecord(record.sequence_number, record.approximate_arrival_timestamp, record, record.traceparent)
            for record in result.records
        ]

    async def checkpoint(self, record: SourceRecord) -> None:
        await self._hub.run(
            self._store.save_checkpoint, self._consumer, self.resource, self.shard_id, record.sequence_number
        )
        self._after = record.sequence_number

    def event(self, records: Sequence[SourceRecord]) -> dict[str, Any]:
        from squall.services.streams import kinesis_event

        return kinesis_event([record.item for record in records], self.source_arn, self._hub.region)

    def batch_info(self, records: Sequence[SourceRecord]) -> dict[str, Any]:
        return _batch_info(self, records, timespec="milliseconds")

    def filter_view(self, event_record: Mapping[str, Any]) -> Mapping[str, Any]:
        return kinesis_filter_view(event_record)


# Tables


class TableCheckpoints:
    """The last change delivered per (function, table), in a small SQLite file of its own.

    Each checkpoint also stores the table's stream label, so a table that was
    deleted and created again under the same name starts afresh.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=5.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a crash of the process, and only
        # a power cut can lose the last ones, which costs a redelivery.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS table_checkpoints ("
            " function TEXT NOT NULL, table_name TEXT NOT NULL, stream_label TEXT NOT NULL,"
            " seq INTEGER NOT NULL, PRIMARY KEY (function, table_name))"
        )

    def load(self, function: str, table: str, stream_label: str) -> int | None:
        """Return the saved sequence number, or None when there is none for this table's current stream."""
        with self._lock:
            row = self._db.execute(
                "SELECT seq FROM table_checkpoints WHERE function = ? AND table_name = ? AND stream_label = ?",
                (function, table, stream_label),
            ).fetchone()
        return None if row is None else int(row[0])

    def save(self, function: str, table: str, stream_label: str, seq: int) -> None:
        """Store `seq` as the last change of the table that `function` handled."""
        with self._lock:
            self._db.execute(
                "INSERT INTO table_checkpoints (function, table_name, stream_label, seq) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (function, table_name)"
                " DO UPDATE SET stream_label = excluded.stream_label, seq = excluded.seq",
                (function, table, stream_label, seq),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()


class TableSource(RecordSource):
    """A table's change stream, which Squall keeps as one shard.

    NOTE: the stream label is read when the source opens, so a table deleted
    and created again while the poller runs is delivered with the old label
    in its ARN until the poller restarts.
    """

    service = "tables"
    batch_info_key = "DDBStreamBatchInfo"
    retention_s = float(TABLE_STREAM_RETENTION_S)

    def __init__(
        self,
        hub: ServiceHub,
        checkpoints: TableCheckpoints,
        function: str,
        table: str,
        starting_position: StartingPosition,
        clock: Callable[[], float],
    ) -> None:
        self._hub = hub
        self._clock = clock
        self._store = hub.store("tables")
        self._checkpoints = checkpoints
        self._function = function
        self.resource = table
        self._starting_position = starting_position
        self._after = 0
        self._label = ""
        self._table_arn = ""
        self.shard_id = ""
        self.source_arn = ""

    async def open(self) -> None:
        from squall.services.tables import stream_arn, table_arn

        info = await self._hub.run(self._store.describe_table, self.resource)
        self._label = info.stream_label
        self._table_arn = table_arn(self.resource, self._hub.region, self._hub.account)
        self.source_arn = stream_arn(self._table_arn, self._label)
        self.shard_id = _table_shard_id(info.created_at, self.resource)

        saved = await self._hub.run(self._checkpoints.load, self._function, self.resource, self._label)
        if saved is not None:
            self._after = saved
        elif self._starting_position is StartingPosition.TRIM_HORIZON:
            self._after = 0
        else:
            self._after = await self._hub.run(_last_change_seq, self._store, self.resource)
            await self._hub.run(self._checkpoints.save, self._function, self.resource, self._label, self._after)

    async def read(self, limit: int) -> list[SourceRecord]:
        from squall.services.tables.lambda_events import sequence_number

        # Changes past the retention period count as trimmed, as in DynamoDB Streams.
        oldest = self._clock() - self.retention_s
        changes: list[Any] = []
        after = self._after
        while len(changes) < limit:
            page = await self._hub.run(
                self._store.changes, self.resource, after, min(TABLE_CHANGES_PER_CALL, limit - len(changes))
            )
            if not page:
                break
            changes.extend(change for change in page if change.created_at >= oldest)
            after = page[-1].seq
        return [
            SourceRecord(sequence_number(change.seq), change.created_at, change, change.traceparent)
            for change in changes
        ]

    async def checkpoint(self, record: SourceRecord) -> None:
        seq = int(record.item.seq)
        await self._hub.run(self._checkpoints.save, self._function, self.resource, self._label, seq)
        self._after = seq

    def describe(self) -> str:
        return f"table {self.resource}"

    def event(self, records: Sequence[SourceRecord]) -> dict[str, Any]:
        from squall.services.tables import dynamodb_stream_event

        return dynamodb_stream_event(
            [record.item for record in records], self._table_arn, self._hub.region, stream_label=self._label
        )

    def batch_info(self, records: Sequence[SourceRecord]) -> dict[str, Any]:
        # DynamoDB Streams reports arrival times in whole seconds.
        return _batch_info(self, records, timespec="seconds")

    def filter_view(self, event_record: Mapping[str, Any]) -> Mapping[str, Any]:
        return dynamodb_filter_view(event_record)


def _last_change_seq(store: Any, table: str) -> int:
    """Return the highest change sequence number of a table, or 0 when it has none (blocking).

    The store has no call for the newest change, but `changes(after, 1)` shows
    whether any change lies above `after`, so a binary search finds it in
    about 2 log2(seq) calls instead of reading every change.
    """
    first = store.changes(table, 0, 1)
    if not first:
        return 0
    low = int(first[0].seq) - 1  # a change above it exists
    high = int(first[0].seq)
    while store.changes(table, high, 1):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if store.changes(table, middle, 1):
            low = middle
        else:
            high = middle
    return high


def _table_shard_id(created_at: float, table: str) -> str:
    # Shaped like a DynamoDB Streams shard id; stable for the table's lifetime.
    checksum = zlib.crc32(table.encode("utf-8"))
    return f"shardId-{round(created_at * 1000):020d}-{checksum:08x}"


# On-failure records


def _batch_info(source: RecordSource, records: Sequence[SourceRecord], *, timespec: str) -> dict[str, Any]:
    return {
        "shardId": source.shard_id,
        "startSequenceNumber": records[0].sequence_number,
        "endSequenceNumber": records[-1].sequence_number,
        "approximateArrivalOfFirstRecord": iso_timestamp(records[0].arrival_s, timespec),
        "approximateArrivalOfLastRecord": iso_timestamp(records[-1].arrival_s, timespec),
        "batchSize": len(records),
        "streamArn": source.source_arn,
    }


def iso_timestamp(epoch_s: float, timespec: str = "milliseconds") -> str:
    """Format epoch seconds as UTC ISO 8601 with a Z, as Lambda's destination records do."""
    stamp = datetime.fromtimestamp(epoch_s, tz=timezone.utc)
    return stamp.isoformat(timespec=timespec).replace("+00:00", "Z")


class FailureCondition(enum.Enum):
    """The reason records went to the on-failure destination, as Lambda names it."""

    RETRY_ATTEMPTS_EXHAUSTED = "RetryAttemptsExhausted"
    RECORD_AGE_EXCEEDED = "RecordAgeExceeded"


def failure_record(
    *,
    source: RecordSource,
    records: Sequence[SourceRecord],
    condition: FailureCondition,
    request_id: str,
    function_arn: str,
    invoke_count: int,
    function_error: bool,
    now: float,
) -> dict[str, Any]:
    """Build the invocation record Lambda sends to a stream trigger's on-failure destination.

    Unlike an asynchronous invocation's record it carries no payloads, only
    the batch's description. A batch that the function responded to with
    `batchItemFailures` has `functionError` null. Records dropped for their
    age were not invoked last, so that record has no `responseContext`.
    """
    record: dict[str, Any] = {
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition.value,
            "approximateInvokeCount": invoke_count,
        },
    }
    if condition is FailureCondition.RETRY_ATTEMPTS_EXHAUSTED:
        record["responseContext"] = {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled" if function_error else None,
        }
    record["version"] = "1.0"
    record["timestamp"] = iso_timestamp(now)
    record[source.batch_info_key] = source.batch_info(records)
    return record
