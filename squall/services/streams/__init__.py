"""Squall's stream service, with the semantics of Kinesis Data Streams.

`StreamStore` is the interface and `SqliteStreams` the embedded backend;
`lambda_events` builds the event a stream trigger delivers and reads the
function's result.
"""

from squall.services.streams.errors import InvalidArgument
from squall.services.streams.lambda_events import bisect, failed_sequence_number, kinesis_event
from squall.services.streams.model import (
    MAX_PUT_RECORDS_BYTES,
    MAX_PUT_RECORDS_COUNT,
    MAX_READ_LIMIT,
    MAX_RECORD_BYTES,
    Position,
    PositionType,
    PutRecordResult,
    PutRecordsEntry,
    PutRecordsResult,
    PutRecordsResultEntry,
    ReadResult,
    Shard,
    StreamDescription,
    StreamRecord,
    StreamStatus,
    StreamStore,
    stream_arn,
)
from squall.services.streams.sqlite import SqliteStreams

__all__ = [
    "MAX_PUT_RECORDS_BYTES",
    "MAX_PUT_RECORDS_COUNT",
    "MAX_READ_LIMIT",
    "MAX_RECORD_BYTES",
    "InvalidArgument",
    "Position",
    "PositionType",
    "PutRecordResult",
    "PutRecordsEntry",
    "PutRecordsResult",
    "PutRecordsResultEntry",
    "ReadResult",
    "Shard",
    "SqliteStreams",
    "StreamDescription",
    "StreamRecord",
    "StreamStatus",
    "StreamStore",
    "bisect",
    "failed_sequence_number",
    "kinesis_event",
    "stream_arn",
]
