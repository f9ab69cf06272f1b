"""The Lambda side of a queue trigger: the SQS event and the partial batch response.

`sqs_event` builds the event Lambda delivers for a batch of received
messages. `failed_message_ids` reads the handler's result when the trigger
reports batch item failures, with the rules of Lambda's SQS event source
mapping:

- complete success: an empty answer, `null`, an object without
  `batchItemFailures` (such as `{}`), a null `batchItemFailures` or an
  empty list;
- complete failure: an answer that is not JSON, a `batchItemFailures` that
  is not a list, or an entry whose `itemIdentifier` is missing, null, empty,
  not a string, or not the id of a message in the batch.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence

from squall.services.queues.model import MessageAttribute, ReceivedMessage

logger = logging.getLogger(__name__)

EVENT_SOURCE = "aws:sqs"


def sqs_event(
    messages: Sequence[ReceivedMessage], queue_arn: str, region: str = "us-east-1"
) -> dict[str, object]:
    """Return the event Lambda delivers for `messages` received from the queue `queue_arn`."""
    return {"Records": [_record(message, queue_arn, region) for message in messages]}


def failed_message_ids(answer: bytes, batch_ids: Sequence[str]) -> set[str]:
    """Return the ids of the messages to leave on the queue after a handler's result.

    `answer` is the handler's JSON result and `batch_ids` the message ids of
    the batch it received. The ids returned are a subset of `batch_ids`:
    the reported failures, or the whole batch when the answer is invalid.
    """
    whole_batch = set(batch_ids)
    if not answer.strip():
        return set()
    try:
        response = json.loads(answer)
    except ValueError:
        logger.warning(
            "batch of %d messages failed: the handler's result is not JSON: %r",
            len(whole_batch),
            answer[:200],
        )
        return whole_batch

    if response is None:
        return set()
    if not isinstance(response, dict):
        # NOTE: AWS documents object results only. A JSON string, number or
        # list is taken as an invalid response, which fails the whole batch.
        return _invalid(whole_batch, f"expected a JSON object, got {type(response).__name__}")
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        kind = type(failures).__name__
        return _invalid(whole_batch, f"batchItemFailures is a {kind}, not a list")

    failed: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in whole_batch:
            return _invalid(
                whole_batch, f"entry {item!r} has no itemIdentifier naming a message of the batch"
            )
        failed.add(identifier)
    return failed


def _invalid(whole_batch: set[str], reason: str) -> set[str]:
    logger.warning(
        "batch of %d messages failed: invalid batchItemFailures result: %s",
        len(whole_batch),
        reason,
    )
    return whole_batch


def _record(message: ReceivedMessage, queue_arn: str, region: str) -> dict[str, object]:
    return {
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": dict(message.attributes),
        "messageAttributes": {
            name: _message_attribute(attribute)
            for name, attribute in message.message_attributes.items()
        },
        "md5OfMessageAttributes": message.md5_of_message_attributes,
        "md5OfBody": message.md5_of_body,
        "eventSource": EVENT_SOURCE,
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _message_attribute(attribute: MessageAttribute) -> dict[str, object]:
    # Lambda adds the list fields, always empty, because SQS reserves them.
    shaped: dict[str, object] = {}
    if attribute.binary_value is not None:
        shaped["binaryValue"] = base64.b64encode(bytes(attribute.binary_value)).decode("ascii")
    else:
        shaped["stringValue"] = attribute.string_value
    shaped["stringListValues"] = []
    shaped["binaryListValues"] = []
    shaped["dataType"] = attribute.data_type
    return shaped
