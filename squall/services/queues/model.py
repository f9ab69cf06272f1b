"""The queue service's interface: settings, records and the `Queues` protocol.

Behaviour follows Amazon SQS: visibility timeouts, delays, retention,
dead-letter queues with a maximum receive count, and FIFO queues (names
ending in `.fifo`) with message groups and five-minute deduplication.
Limits are SQS's documented ones unless a constant below states otherwise.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from squall.services.errors import InvalidParameter

FIFO_SUFFIX = ".fifo"

DEFAULT_VISIBILITY_TIMEOUT_S = 30
MAX_VISIBILITY_TIMEOUT_S = 12 * 60 * 60
DEFAULT_RETENTION_S = 4 * 24 * 60 * 60
MIN_RETENTION_S = 60
MAX_RETENTION_S = 14 * 24 * 60 * 60
MAX_DELAY_S = 15 * 60
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024
MIN_MAX_MESSAGE_BYTES = 1024
# SQS raised its message size limit from 256 KiB to 1 MiB in 2025. The
# default stays at 256 KiB, and a queue may opt in to the larger size.
MAX_MAX_MESSAGE_BYTES = 1024 * 1024
MAX_RECEIVE_WAIT_S = 20
MAX_RECEIVE_COUNT_LIMIT = 1000
DEDUPLICATION_INTERVAL_S = 5 * 60
MAX_BATCH_ENTRIES = 10
MAX_MESSAGES_PER_RECEIVE = 10
MAX_MESSAGE_ATTRIBUTES = 10
# The system attribute that carries a message's X-Ray trace header, sent by
# the SDK from inside a function. SQS counts it in neither the message size
# nor the ten message attributes.
TRACE_HEADER_ATTRIBUTE = "AWSTraceHeader"


class AttributeType(enum.Enum):
    """The base data type of a message attribute, to which a custom type adds a `.label` suffix."""

    STRING = "String"
    NUMBER = "Number"
    BINARY = "Binary"


@dataclass(frozen=True)
class DeadLetterPolicy:
    """The dead-letter policy: the queue a message moves to after `max_receive_count` receives without a delete.

    `target` is the name of the dead-letter queue, which must exist and be of
    the same type (standard or FIFO) as the source queue.
    """

    target: str
    max_receive_count: int

    def __post_init__(self) -> None:
        _check_whole(
            "dead_letter.max_receive_count", self.max_receive_count, 1, MAX_RECEIVE_COUNT_LIMIT
        )


@dataclass(frozen=True)
class QueueSettings:
    """A queue's settings, in seconds and bytes, with SQS's defaults and ranges.

    `receive_wait_s` is the default long-polling wait the server applies,
    because the store itself never blocks. `content_based_deduplication` is valid
    for FIFO queues only.
    """

    visibility_timeout_s: int = DEFAULT_VISIBILITY_TIMEOUT_S
    retention_s: int = DEFAULT_RETENTION_S
    delay_s: int = 0
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    receive_wait_s: int = 0
    dead_letter: DeadLetterPolicy | None = None
    content_based_deduplication: bool = False

    def __post_init__(self) -> None:
        _check_whole("visibility_timeout_s", self.visibility_timeout_s, 0, MAX_VISIBILITY_TIMEOUT_S)
        _check_whole("retention_s", self.retention_s, MIN_RETENTION_S, MAX_RETENTION_S)
        _check_whole("delay_s", self.delay_s, 0, MAX_DELAY_S)
        _check_whole(
            "max_message_bytes",
            self.max_message_bytes,
            MIN_MAX_MESSAGE_BYTES,
            MAX_MAX_MESSAGE_BYTES,
        )
        _check_whole("receive_wait_s", self.receive_wait_s, 0, MAX_RECEIVE_WAIT_S)
        if self.dead_letter is not None and not isinstance(self.dead_letter, DeadLetterPolicy):
            raise InvalidParameter(
                f"queue setting dead_letter: expected a DeadLetterPolicy or None,"
                f" got {self.dead_letter!r}"
            )
        if not isinstance(self.content_based_deduplication, bool):
            raise InvalidParameter(
                f"queue setting content_based_deduplication: expected True or False,"
                f" got {self.content_based_deduplication!r}"
            )


@dataclass(frozen=True)
class Queue:
    """A queue as stored: its name, ARN, settings and creation time (epoch seconds)."""

    name: str
    arn: str
    settings: QueueSettings
    created_at: float

    @property
    def fifo(self) -> bool:
        """True for a FIFO queue, whose name ends in `.fifo`."""
        return self.name.endswith(FIFO_SUFFIX)


@dataclass(frozen=True)
class MessageAttribute:
    """A user-defined message attribute, as SQS's `MessageAttributeValue`.

    `data_type` is `String`, `Number` or `Binary`, optionally followed by a
    custom label (`Number.float`). String and Number attributes carry
    `string_value`; Binary attributes carry `binary_value`.
    """

    data_type: str
    string_value: str | None = None
    binary_value: bytes | None = None

    @property
    def base_type(self) -> AttributeType:
        """The data type without its custom label."""
        return AttributeType(self.data_type.split(".", 1)[0])


@dataclass(frozen=True)
class SentMessage:
    """The result of a send: the message id and the MD5 digests a client checks.

    `sequence_number` is set for FIFO queues only. A FIFO send that was
    deduplicated returns the id and sequence number of the first send.
    """

    message_id: str
    md5_of_body: str
    md5_of_message_attributes: str | None
    sequence_number: str | None = None


@dataclass(frozen=True)
class BatchEntry:
    """One message of a `send_batch` request; `id` is unique within the request."""

    id: str
    body: str
    delay_s: int | None = None
    attributes: Mapping[str, MessageAttribute] | None = None
    group_id: str | None = None
    dedup_id: str | None = None


@dataclass(frozen=True)
class DeleteEntry:
    """One receipt handle of a `delete_batch` request; `id` is unique within the request."""

    id: str
    receipt_handle: str


@dataclass(frozen=True)
class BatchEntryFailure:
    """The reason one entry of a batch failed, as SQS's `BatchResultErrorEntry`."""

    code: str
    message: str
    sender_fault: bool = True


@dataclass(frozen=True)
class SendBatchResult:
    """The outcome of `send_batch`: each entry id is in exactly one of the two maps."""

    successful: Mapping[str, SentMessage] = field(default_factory=dict)
    failed: Mapping[str, BatchEntryFailure] = field(default_factory=dict)


@dataclass(frozen=True)
class DeleteBatchResult:
    """The outcome of `delete_batch`: each entry id is in exactly one of the two fields."""

    successful: tuple[str, ...] = ()
    failed: Mapping[str, BatchEntryFailure] = field(default_factory=dict)


@dataclass(frozen=True)
class ReceivedMessage:
    """A message as one receive returns it.

    `attributes` contains SQS's system attributes as strings, named as SQS
    names them: ApproximateReceiveCount, SentTimestamp and
    ApproximateFirstReceiveTimestamp (epoch milliseconds), SenderId, and
    MessageGroupId, MessageDeduplicationId and SequenceNumber where they
    apply, AWSTraceHeader for a message sent with an X-Ray trace header, and
    DeadLetterQueueSourceArn for a message moved by redrive.
    """

    message_id: str
    receipt_handle: str
    body: str
    md5_of_body: str
    md5_of_message_attributes: str | None
    message_attributes: Mapping[str, MessageAttribute]
    attributes: Mapping[str, str]


@dataclass(frozen=True)
class QueueStats:
    """Message counts of a queue at one moment, and the age of its oldest message.

    `oldest_age_s` is None for an empty queue.
    """

    visible: int
    in_flight: int
    delayed: int
    oldest_age_s: float | None


class Queues(Protocol):
    """A store of SQS-like queues. Each method that changes data commits before it returns."""

    def create_queue(self, name: str, settings: QueueSettings | None = None) -> Queue:
        """Create a queue, or return it when it exists with the same settings."""
        ...

    def update_queue(self, name: str, settings: QueueSettings) -> Queue:
        """Change an existing queue's settings."""
        ...

    def get_queue(self, name: str) -> Queue:
        """Return the queue `name`, or raise QueueDoesNotExist."""
        ...

    def list_queues(self, prefix: str = "") -> list[Queue]:
        """Return the queues whose name starts with `prefix`, ordered by name."""
        ...

    def delete_queue(self, name: str) -> None:
        """Delete a queue and its messages."""
        ...

    def purge(self, name: str) -> None:
        """Delete every message of a queue, in flight or not."""
        ...

    def send(
        self,
        queue: str,
        body: str,
        delay_s: int | None = None,
        attributes: Mapping[str, MessageAttribute] | None = None,
        group_id: str | None = None,
        dedup_id: str | None = None,
        *,
        trace_header: str | None = None,
    ) -> SentMessage:
        """Enqueue one message, with `trace_header` as its AWSTraceHeader system attribute when given."""
        ...

    def send_batch(
        self, queue: str, entries: Sequence[BatchEntry], *, trace_header: str | None = None
    ) -> SendBatchResult:
        """Enqueue up to 10 messages, where a bad entry fails alone; `trace_header` applies to each."""
        ...

    def receive(
        self, queue: str, max_messages: int = 1, visibility_timeout_s: int | None = None
    ) -> list[ReceivedMessage]:
        """Return up to `max_messages` visible messages and hide them for the visibility timeout."""
        ...

    def delete(self, queue: str, receipt_handle: str) -> None:
        """Delete the message that the receipt handle was issued for."""
        ...

    def delete_batch(self, queue: str, entries: Sequence[DeleteEntry]) -> DeleteBatchResult:
        """Delete up to 10 messages by receipt handle, where a bad entry fails alone."""
        ...

    def change_visibility(self, queue: str, receipt_handle: str, timeout_s: int) -> None:
        """Make a received message visible again after `timeout_s` seconds from now."""
        ...

    def stats(self, queue: str) -> QueueStats:
        """Return the queue's visible, in-flight and delayed counts and its oldest age."""
        ...

    def next_visible_at(self, queue: str) -> float | None:
        """Return when the next message becomes receivable (epoch seconds), or None if empty."""
        ...

    def close(self) -> None:
        """Release the store's resources, after which other calls raise."""
        ...


def _check_whole(setting: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidParameter(
            f"queue setting {setting}: expected a whole number from {low} to {high}, got {value!r}"
        )
