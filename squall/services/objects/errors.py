"""Errors of the object store, each with the error code S3 uses for the same case.

Every class derives from one of the shared data-service errors, so a caller
that handles `ResourceNotFound` or `InvalidParameter` also handles these.
"""

from __future__ import annotations

from squall.services.errors import (
    ConditionFailed,
    InvalidParameter,
    LimitExceeded,
    ResourceExists,
    ResourceNotFound,
)


class NoSuchBucket(ResourceNotFound):
    """Raised when a request names a bucket that does not exist."""

    code = "NoSuchBucket"


class NoSuchKey(ResourceNotFound):
    """Raised when a read or copy names a key that the bucket does not contain."""

    code = "NoSuchKey"


class BucketNotEmpty(ConditionFailed):
    """Raised when `delete_bucket` names a bucket that still contains objects."""

    code = "BucketNotEmpty"


class InvalidBucketName(InvalidParameter):
    """Raised when a bucket name breaks S3's bucket naming rules."""

    code = "InvalidBucketName"


class InvalidArgument(InvalidParameter):
    """Raised for an invalid key, metadata entry, content type, list option or continuation token."""

    code = "InvalidArgument"


class KeyTooLong(InvalidParameter):
    """Raised when an object key is longer than 1024 bytes in UTF-8."""

    code = "KeyTooLongError"


class InvalidRequest(InvalidParameter):
    """Raised when a copy would replace an object with itself and change nothing."""

    code = "InvalidRequest"


class InvalidRange(InvalidParameter):
    """Raised when a byte range starts at or past the end of the object.

    `size` is the object's size, which an HTTP response puts in
    `Content-Range: bytes */<size>`.
    """

    code = "InvalidRange"
    status = 416

    def __init__(self, message: str, size: int) -> None:
        self.size = size
        super().__init__(message)


class EntityTooLarge(LimitExceeded):
    """Raised while an upload streams in, as soon as it passes the maximum object size."""

    code = "EntityTooLarge"


class MetadataTooLarge(LimitExceeded):
    """Raised when user metadata is over 2 KB, counted as S3 counts it."""

    code = "MetadataTooLarge"


class PreconditionFailed(ConditionFailed):
    """Raised when a condition of a request does not hold.

    A put with `if_none_match=True` names a key that already exists, or a read's
    If-Match lists no entity tag of the object.
    """

    code = "PreconditionFailed"
    status = 412


class StoreInUse(ResourceExists):
    """Raised when another `FileObjects` (in this or another process) already owns the folder."""

    code = "StoreInUse"
