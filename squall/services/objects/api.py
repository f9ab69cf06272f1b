"""The object store's JSON operations, as the services API runs them.

Object bytes never travel as JSON: `squall.gateway.objects_api` streams
uploads and downloads on its own routes. The operations here cover buckets,
metadata, deletes, copies and listings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from squall.services.args import Args, to_json
from squall.services.objects.model import MAX_LIST_KEYS, BucketInfo, ObjectInfo, ObjectStore

RESOURCE_ARGUMENT = "bucket"
# A streamed PUT does not pass through the hub, so the objects gateway notifies for it.
WRITES = {"copy", "delete"}
# These also take the caller's W3C traceparent, which the store logs with the change.
# Their `trace_header` argument, the X-Ray trace header of the invocation
# that calls them, goes with the change as well.
TRACED = {"copy", "delete"}


def create_bucket(store: ObjectStore, args: Args) -> BucketInfo:
    return store.create_bucket(args.text("bucket"))


def delete_bucket(store: ObjectStore, args: Args) -> None:
    store.delete_bucket(args.text("bucket"))


def list_buckets(store: ObjectStore, args: Args) -> list[BucketInfo]:
    return store.list_buckets()


def head_bucket(store: ObjectStore, args: Args) -> BucketInfo:
    return store.head_bucket(args.text("bucket"))


def head(store: ObjectStore, args: Args) -> ObjectInfo:
    return store.head(args.text("bucket"), args.text("key"))


def delete(store: ObjectStore, args: Args, traceparent: str | None = None) -> None:
    store.delete(args.text("bucket"), args.text("key"), traceparent=traceparent,
                 trace_header=args.text("trace_header", None))


def copy(store: ObjectStore, args: Args, traceparent: str | None = None) -> ObjectInfo:
    """Copy `src_key` of `src_bucket` (default: `bucket`) to `key` of `bucket`.

    As in S3's CopyObject, `bucket` and `key` name the destination, so the
    hub notifies the bucket where the new object appears.
    """
    bucket = args.text("bucket")
    return store.copy(
        src_bucket=args.text("src_bucket", bucket),
        src_key=args.text("src_key"),
        dst_bucket=bucket,
        dst_key=args.text("key"),
        metadata=args.mapping("metadata", None),
        content_type=args.text("content_type", None),
        traceparent=traceparent,
        trace_header=args.text("trace_header", None),
    )


def list_objects(store: ObjectStore, args: Args) -> dict[str, Any]:
    result = store.list(
        args.text("bucket"),
        prefix=args.text("prefix", ""),
        delimiter=args.text("delimiter", None),
        max_keys=args.integer("max_keys", MAX_LIST_KEYS),
        continuation_token=args.text("continuation_token", None),
        start_after=args.text("start_after", None),
    )
    page: dict[str, Any] = to_json(result)
    page["key_count"] = result.key_count
    return page


OPERATIONS: dict[str, Callable[[ObjectStore, Args], Any]] = {
    "create_bucket": create_bucket,
    "delete_bucket": delete_bucket,
    "list_buckets": list_buckets,
    "head_bucket": head_bucket,
    "head": head,
    "delete": delete,
    "copy": copy,
    "list": list_objects,
}

# The arguments each operation reads; the hub rejects any other name before the call.
ARGUMENTS = {
    "create_bucket": ('bucket',),
    "delete_bucket": ('bucket',),
    "list_buckets": (),
    "head_bucket": ('bucket',),
    "head": ('bucket', 'key'),
    "delete": ('bucket', 'key', 'trace_header'),
    "copy": ('bucket', 'content_type', 'key', 'metadata', 'src_bucket', 'src_key', 'trace_header'),
    "list": ('bucket', 'continuation_token', 'delimiter', 'max_keys', 'prefix', 'start_after'),
}
