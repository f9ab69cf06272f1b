"""Validation of one message on its way into a queue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from squall.services.errors import InvalidParameter, LimitExceeded
from squall.services.queues.errors import MissingParameter
from squall.services.queues.messages import (
    check_range,
    content_dedup_id,
    md5_of_attributes,
    md5_of_body,
    message_size,
    validate_attributes,
    validate_body,
    validate_group_or_dedup_id,
    validate_trace_header,
)
from squall.services.queues.model import MAX_DELAY_S, MessageAttribute, Queue
from squall.services.queues.rows import encode_attributes


@dataclass(frozen=True)
class Outgoing:
    """A validated message, ready to insert; `dedup_id` is set for every FIFO message."""

    body: str
    attributes_json: str | None
    md5_of_body: str
    md5_of_attributes: str | None
    size: int
    delay_s: int | None
    group_id: str | None
    dedup_id: str | None
    trace_header: str | None = None


def prepare_message(
    queue: Queue,
    body: str,
    delay_s: int | None,
    attributes: Mapping[str, MessageAttribute] | None,
    group_id: str | None,
    dedup_id: str | None,
    trace_header: str | None = None,
) -> Outgoing:
    """Validate one message for `queue` and compute its size and digests.

    `trace_header` becomes the AWSTraceHeader system attribute, which the
    size leaves out, as SQS does. Raises LimitExceeded when the body and
    attributes are over the queue's max_message_bytes, MissingParameter when
    a FIFO message lacks its group id, and InvalidParameter (or a subclass)
    for any other invalid value.
    """
    validate_body(body)
    if trace_header is not None:
        validate_trace_header(trace_header)
    validate_attributes(attributes)
    size = message_size(body, attributes)
    limit = queue.settings.max_message_bytes
    if size > limit:
        raise LimitExceeded(
            f"message for queue {queue.name!r} is {size} bytes (body and message attributes),"
            f" but the queue's limit is {limit} bytes"
        )

    if delay_s is not None:
        check_range("delay_s", delay_s, 0, MAX_DELAY_S)
        if queue.fifo and delay_s != 0:
            raise InvalidParameter(
                f"delay_s {delay_s} is invalid for FIFO queue {queue.name!r}: a FIFO queue"
                " delays every message by its delay_s setting, not per message"
            )

    if queue.fifo:
        dedup_id = _fifo_dedup_id(queue, body, group_id, dedup_id)
    else:
        if dedup_id is not None:
            raise InvalidParameter(
                f"dedup_id {dedup_id!r} is invalid for standard queue {queue.name!r}:"
                " deduplication ids apply to FIFO queues only"
            )
        # SQS accepts a group id on a standard queue, where it marks the
        # tenant of a fair queue without affecting the order.
        if group_id is not None:
            validate_group_or_dedup_id("group_id", group_id)

    return Outgoing(
        body=body,
        attributes_json=encode_attributes(attributes),
        md5_of_body=md5_of_body(body),
        md5_of_attributes=md5_of_attributes(attributes),
        size=size,
        delay_s=delay_s,
        group_id=group_id,
        dedup_id=dedup_id,
        trace_header=trace_header,
    )


def _fifo_dedup_id(queue: Queue, body: str, group_id: str | None, dedup_id: str | None) -> str:
    if group_id is None:
        raise MissingParameter(
            f"FIFO queue {queue.name!r} needs a group_id on every message"
        )
    validate_group_or_dedup_id("group_id", group_id)
    if dedup_id is not None:
        return validate_group_or_dedup_id("dedup_id", dedup_id)
    if not queue.settings.content_based_deduplication:
        raise InvalidParameter(
            f"FIFO queue {queue.name!r} needs a dedup_id on every message, because its"
            " content_based_deduplication setting is off"
        )
    return content_dedup_id(body)
