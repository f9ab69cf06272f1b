"""Squall's object store: S3-like buckets and objects, with a change log for triggers.

`FileObjects` is the embedded backend (SQLite for metadata, plain files for
bytes). Code that only needs the behaviour should depend on `ObjectStore`.
"""

from squall.services.objects.errors import (
    BucketNotEmpty,
    EntityTooLarge,
    InvalidArgument,
    InvalidBucketName,
    InvalidRange,
    InvalidRequest,
    KeyTooLong,
    MetadataTooLarge,
    NoSuchBucket,
    NoSuchKey,
    PreconditionFailed,
    StoreInUse,
)
from squall.services.objects.lambda_events import encode_key, matches, s3_event, validate_event_kinds
from squall.services.objects.model import (
    DEFAULT_CONTENT_TYPE,
    DEFAULT_MAX_OBJECT_SIZE,
    MAX_LIST_KEYS,
    BucketInfo,
    ByteRange,
    EventKind,
    EventName,
    GetResult,
    ListResult,
    ObjectEvent,
    ObjectInfo,
    ObjectReader,
    ObjectStore,
)
from squall.services.objects.ranges import parse_range
from squall.services.objects.sqlite import FileObjects
from squall.services.objects.validation import validate_bucket_name, validate_key, validate_metadata

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "DEFAULT_MAX_OBJECT_SIZE",
    "MAX_LIST_KEYS",
    "BucketInfo",
    "BucketNotEmpty",
    "ByteRange",
    "EntityTooLarge",
    "EventKind",
    "EventName",
    "FileObjects",
    "GetResult",
    "InvalidArgument",
    "InvalidBucketName",
    "InvalidRange",
    "InvalidRequest",
    "KeyTooLong",
    "ListResult",
    "MetadataTooLarge",
    "NoSuchBucket",
    "NoSuchKey",
    "ObjectEvent",
    "ObjectInfo",
    "ObjectReader",
    "ObjectStore",
    "PreconditionFailed",
    "StoreInUse",
    "encode_key",
    "matches",
    "parse_range",
    "s3_event",
    "validate_bucket_name",
    "validate_event_kinds",
    "validate_key",
    "validate_metadata",
]
