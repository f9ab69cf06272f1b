"""The Lambda side of a stream trigger: the event a function receives, and its response.

The event follows what Lambda delivers for a Kinesis event source mapping.
Responses are read by Lambda's documented rules for partial batch responses
with Kinesis ("ReportBatchItemFailures"):

- the batch succeeded when the response is empty, null, not a JSON object, or
  an object whose `batchItemFailures` is missing, null or an empty list;
- the whole batch failed when an entry of `batchItemFailures` has no
  `itemIdentifier`, or one that is empty, null or not a sequence number of
  the batch;
- otherwise processing resumes at the lowest sequence number reported.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence
from typing import Any, TypeVar

from squall.services.streams.model import DEFAULT_REGION, StreamRecord

logger = logging.getLogger(__name__)

KINESIS_SCHEMA_VERSION = "1.0"
EVENT_VERSION = "1.0"
EVENT_SOURCE = "aws:kinesis"
EVENT_NAME = "aws:kinesis:record"
# Squall has no IAM roles, so invokeIdentityArn names this placeholder role
# where Lambda names the function's execution role.
DEFAULT_ROLE_NAME = "squall-stream-trigger"

_T = TypeVar("_T")


def kinesis_event(
    records: Sequence[StreamRecord],
    stream_arn: str,
    region: str = DEFAULT_REGION,
    invoke_identity_arn: str | None = None,
) -> dict[str, Any]:
    """Build the event a function receives for a batch of stream records.

    `invoke_identity_arn` defaults to a role in the stream ARN's account.
    """
    if invoke_identity_arn is None:
        invoke_identity_arn = f"arn:aws:iam::{_account_of(stream_arn)}:role/{DEFAULT_ROLE_NAME}"
    return {"Records": [_event_record(record, stream_arn, region, invoke_identity_arn) for record in records]}


def _event_record(record: StreamRecord, stream_arn: str, region: str, invoke_identity_arn: str) -> dict[str, Any]:
    return {
        "kinesis": {
            "kinesisSchemaVersion": KINESIS_SCHEMA_VERSION,
            "partitionKey": record.partition_key,
            "sequenceNumber": record.sequence_number,
            "data": base64.b64encode(record.data).decode("ascii"),
            "approximateArrivalTimestamp": record.approximate_arrival_timestamp,
        },
        "eventSource": EVENT_SOURCE,
        "eventVersion": EVENT_VERSION,
        "eventID": f"{record.shard_id}:{record.sequence_number}",
        "eventName": EVENT_NAME,
        "invokeIdentityArn": invoke_identity_arn,
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    }


def _account_of(arn: str) -> str:
    # arn:partition:service:region:account:resource
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[4]:
        return parts[4]
    return "000000000000"


def failed_sequence_number(answer: bytes, batch: Sequence[StreamRecord]) -> str | None:
    """Parse a handler's response to a batch; return where processing resumes, or None if all succeeded.

    `answer` is the invocation's response payload. Call this only after an
    invocation that returned normally, for a trigger with
    ReportBatchItemFailures on. A whole-batch failure returns the batch's
    first sequence number. The module docstring lists the rules.
    """
    if not batch:
        return None
    first = batch[0].sequence_number

    if not answer.strip():
        return None
    try:
        parsed = json.loads(answer)
    except (UnicodeDecodeError, json.JSONDecodeError):
        # NOTE: only a handler that returns bytes gets here, and AWS documents no
        # rule for this case. Failing the batch retries it instead of losing records.
        logger.warning("stream batch response is not JSON; retrying the whole batch from %s", first)
        return first

    # NOTE: AWS's recorded successes cover "", [], null and {}. Other responses
    # that are not JSON objects count as success too, which AWS does not document.
    if not isinstance(parsed, dict):
        return None
    failures = parsed.get("batchItemFailures")
    if failures is None:
        return None
    if not isinstance(failures, list):
        logger.warning("stream batch response has batchItemFailures %r, not a list; retrying the whole batch", failures)
        return first
    if not failures:
        return None

    in_batch = {record.sequence_number for record in batch}
    failed: list[str] = []
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in in_batch:
            logger.warning(
                "stream batch response reports item %r, which names no record of the batch;"
                " retrying the whole batch from %s",
                item,
                first,
            )
            return first
        failed.append(identifier)
    return min(failed, key=int)


def bisect(batch: Sequence[_T]) -> tuple[tuple[_T, ...], tuple[_T, ...]]:
    """Split a batch in two for BisectBatchOnFunctionError; the first half takes the odd record.

    A batch of one record returns it as the first half and an empty second
    half, because it cannot be split further.
    """
    middle = (len(batch) + 1) // 2
    return tuple(batch[:middle]), tuple(batch[middle:])
