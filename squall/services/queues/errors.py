"""Errors of the queue service, each with the error code SQS uses for the same case."""

from __future__ import annotations

from squall.services.errors import InvalidParameter, LimitExceeded, ResourceExists, ResourceNotFound


class QueueDoesNotExist(ResourceNotFound):
    """Raised when a request names a queue that does not exist."""

    code = "QueueDoesNotExist"

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"queue {name!r} does not exist: create it first or check the name")


class QueueNameExists(ResourceExists):
    """Raised when `create_queue` names an existing queue with other settings."""

    code = "QueueNameExists"


class ReceiptHandleIsInvalid(InvalidParameter):
    """Raised when a receipt handle is malformed, from another queue, or no longer current."""

    code = "ReceiptHandleIsInvalid"


class MissingParameter(InvalidParameter):
    """Raised when a request lacks a parameter that the queue type requires."""

    code = "MissingParameter"


class InvalidMessageContents(InvalidParameter):
    """Raised when a message body or attribute value contains characters SQS does not allow."""

    code = "InvalidMessageContents"


class EmptyBatchRequest(InvalidParameter):
    """Raised when a batch request has no entries."""

    code = "EmptyBatchRequest"


class TooManyEntriesInBatchRequest(InvalidParameter):
    """Raised when a batch request has more than 10 entries."""

    code = "TooManyEntriesInBatchRequest"


class BatchEntryIdsNotDistinct(InvalidParameter):
    """Raised when two entries of one batch request share an id."""

    code = "BatchEntryIdsNotDistinct"


class InvalidBatchEntryId(InvalidParameter):
    """Raised when a batch entry id is not 1 to 80 characters of A-Z, a-z, 0-9, '-' and '_'."""

    code = "InvalidBatchEntryId"


class BatchRequestTooLong(LimitExceeded):
    """Raised when the messages of one batch add up to more bytes than a batch may carry."""

    code = "BatchRequestTooLong"
