"""Squall's queue service: SQS-like queues on an embedded SQLite store.

`model` contains the `Queues` protocol, its settings and records, and
`sqlite` is the embedded implementation. `lambda_events` builds the event a queue
trigger delivers and reads the handler's partial batch response.
"""

from __future__ import annotations

from squall.services.queues.errors import (
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    InvalidMessageContents,
    MissingParameter,
    QueueDoesNotExist,
    QueueNameExists,
    ReceiptHandleIsInvalid,
    TooManyEntriesInBatchRequest,
)
from squall.services.queues.lambda_events import failed_message_ids, sqs_event
from squall.services.queues.messages import md5_of_attributes, md5_of_body
from squall.services.queues.model import (
    AttributeType,
    BatchEntry,
    BatchEntryFailure,
    DeadLetterPolicy,
    DeleteBatchResult,
    DeleteEntry,
    MessageAttribute,
    Queue,
    Queues,
    QueueSettings,
    QueueStats,
    ReceivedMessage,
    SendBatchResult,
    SentMessage,
)
from squall.services.queues.sqlite import SqliteQueues

__all__ = [
    "AttributeType",
    "BatchEntry",
    "BatchEntryFailure",
    "BatchEntryIdsNotDistinct",
    "BatchRequestTooLong",
    "DeadLetterPolicy",
    "DeleteBatchResult",
    "DeleteEntry",
    "EmptyBatchRequest",
    "InvalidBatchEntryId",
    "InvalidMessageContents",
    "MessageAttribute",
    "MissingParameter",
    "Queue",
    "QueueDoesNotExist",
    "QueueNameExists",
    "QueueSettings",
    "QueueStats",
    "Queues",
    "ReceiptHandleIsInvalid",
    "ReceivedMessage",
    "SendBatchResult",
    "SentMessage",
    "SqliteQueues",
    "TooManyEntriesInBatchRequest",
    "failed_message_ids",
    "md5_of_attributes",
    "md5_of_body",
    "sqs_event",
]
