"""The event a Lambda function receives from a table's change stream.

It has the shape of a DynamoDB Streams event: each record carries the keys
in typed JSON, and the images its StreamViewType names.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from typing import Any

from squall.services.tables.model import Change
from squall.services.tables.values import item_to_typed

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "000000000000"

# The record format version in the DynamoDB Streams events that Lambda delivers.
EVENT_VERSION = "1.1"

# Sequence numbers are zero-padded so that their text sorts like their value.
_SEQUENCE_DIGITS = 21


def table_arn(name: str, region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT) -> str:
    """Return the ARN of a table, e.g. `arn:aws:dynamodb:us-east-1:000000000000:table/orders`."""
    return f"arn:aws:dynamodb:{region}:{account}:table/{name}"


def stream_arn(table: str, stream_label: str) -> str:
    """Return the ARN of a table's stream from the table's ARN and the stream label."""
    return f"{table}/stream/{stream_label}"


def sequence_number(seq: int) -> str:
    """Format a change's sequence number as the decimal string the event carries."""
    return str(seq).zfill(_SEQUENCE_DIGITS)


def dynamodb_stream_event(
    changes: Iterable[Change],
    table_arn: str,
    region: str = DEFAULT_REGION,
    *,
    stream_label: str,
) -> dict[str, Any]:
    """Build the `{"Records": [...]}` event for a batch of change records.

    `stream_label` is `TableInfo.stream_label`; with `table_arn` it forms the
    eventSourceARN. A record's eventID derives from the stream ARN and the
    sequence number, so a batch that is delivered again keeps its ids.
    """
    source_arn = stream_arn(table_arn, stream_label)
    return {"Records": [_record(change, source_arn, region) for change in changes]}


def _record(change: Change, source_arn: str, region: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        # DynamoDB Streams rounds the creation time down to whole seconds.
        "ApproximateCreationDateTime": float(math.floor(change.created_at)),
        "Keys": item_to_typed(change.keys),
    }
    if change.new_image is not None:
        body["NewImage"] = item_to_typed(change.new_image)
    if change.old_image is not None:
        body["OldImage"] = item_to_typed(change.old_image)
    body["SequenceNumber"] = sequence_number(change.seq)
    body["SizeBytes"] = change.size_bytes
    body["StreamViewType"] = change.view_type.value

    record: dict[str, Any] = {
        "eventID": uuid.uuid5(uuid.NAMESPACE_URL, f"{source_arn}#{change.seq}").hex,
        "eventName": change.event_name.value,
        "eventVersion": EVENT_VERSION,
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": body,
        "eventSourceARN": source_arn,
    }
    if change.user_identity is not None:
        record["userIdentity"] = dict(change.user_identity)
    return record
