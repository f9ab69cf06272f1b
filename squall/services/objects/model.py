"""The object store's interface: records, event kinds and the `ObjectStore` protocol.

Every backend (files with SQLite today, an S3-compatible store later)
implements `ObjectStore` and passes the same behaviour tests.
"""

from __future__ import annotations

import builtins
import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import BinaryIO, Protocol

# S3 stores this content type for an upload that sends none.
DEFAULT_CONTENT_TYPE = "binary/octet-stream"

# S3's limit for a single PUT (5 GiB); larger objects need a multipart upload there.
DEFAULT_MAX_OBJECT_SIZE = 5 * 1024**3

# ListObjectsV2 returns at most 1000 entries a page, even when MaxKeys is larger.
MAX_LIST_KEYS = 1000

class EventKind(enum.Enum):
    """The effect of a change: an object created (or replaced), or removed."""

    CREATED = "created"
    REMOVED = "removed"


class EventName(enum.Enum):
    """The S3 event name of a change, as the `eventName` of a notification carries it."""

    PUT = "ObjectCreated:Put"
    COPY = "ObjectCreated:Copy"
    DELETE = "ObjectRemoved:Delete"

    @property
    def kind(self) -> EventKind:
        return EventKind.CREATED if self.value.startswith("ObjectCreated:") else EventKind.REMOVED


@dataclass(frozen=True)
class BucketInfo:
    """A bucket and the time it was created (epoch seconds)."""

    name: str
    created_at: float


@dataclass(frozen=True)
class ObjectInfo:
    """An object's system and user metadata.

    `etag` is quoted as S3 sends it in the ETag header: the MD5 of the bytes
    in hex between double quotes. `last_modified` is in epoch seconds.
    """

    bucket: str
    key: str
    size: int
    etag: str
    content_type: str
    last_modified: float
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ByteRange:
    """A satisfiable byte range of an object: `start` to `end`, both inclusive."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        """Format the value of the HTTP Content-Range header for an object of `size` bytes."""
        return f"bytes {self.start}-{self.end}/{size}"


class ObjectReader(Iterator[bytes]):
    """The bytes of an object (or of a range of it), read in chunks from an open file.

    Iterate it, or call `read`. The file stays readable after the object is
    overwritten or deleted, so a reader always returns the version it was
    opened on. Close it (or use it as a context manager) when done early.
    """

    def __init__(self, file: BinaryIO, start: int, length: int, chunk_size: int) -> None:
        self._file = file
        self._remaining = length
        self._chunk_size = chunk_size
        file.seek(start)

    def __iter__(self) -> ObjectReader:
        return self

    def __next__(self) -> bytes:
        chunk = self.read(self._chunk_size)
        if not chunk:
            raise StopIteration
        return chunk

    def read(self, size: int = -1) -> bytes:
        """Read up to `size` bytes (all that remain when `size` is negative); b"" at the end."""
        if self._remaining <= 0:
            self.close()
            return b""
        wanted = self._remaining if size < 0 else min(size, self._remaining)
        chunk = self._file.read(wanted)
        if not chunk:
            # The file is shorter than its recorded size, so end the body instead of looping.
            self.close()
            return b""
        self._remaining -= len(chunk)
        return chunk

    def close(self) -> None:
        self._remaining = 0
        self._file.close()

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True)
class GetResult:
    """The result of `get`: the object's metadata, the range served and a reader of its bytes.

    `byte_range` is None when the whole object is served.
    """

    info: ObjectInfo
    byte_range: ByteRange | None
    body: ObjectReader

    @property
    def content_length(self) -> int:
        return self.info.size if self.byte_range is None else self.byte_range.length


@dataclass(frozen=True)
class ListResult:
    """One page of a ListObjectsV2-style listing.

    `contents` and `common_prefixes` are each in UTF-8 binary order of the
    key. `key_count` counts both, as S3's KeyCount does. Pass
    `next_continuation_token` back to read the next page; it is None when
    `is_truncated` is False.
    """

    bucket: str
    prefix: str
    delimiter: str | None
    max_keys: int
    contents: tuple[ObjectInfo, ...]
    common_prefixes: tuple[str, ...]
    is_truncated: bool
    next_continuation_token: str | None
    start_after: str | None = None
    continuation_token: str | None = None

    @property
    def key_count(self) -> int:
        return len(self.contents) + len(self.common_prefixes)


@dataclass(frozen=True)
class ObjectEvent:
    """One change from the event log, in commit order.

    `seq` increases with every change and is never reused, so a reader can
    resume after the last `seq` it handled. `sequencer` is the same order as
    S3 writes it: 18 uppercase hex digits. `size` and `etag` (quoted, as in
    `ObjectInfo`) are None for a removal. `time` is in epoch seconds.
    `traceparent` is the W3C trace context of the request that made the
    change, or None, and `trace_header` the X-Ray trace header of the
    invocation that made it, or None. Neither appears in the S3 event.
    """

    seq: int
    bucket: str
    key: str
    name: EventName
    size: int | None
    etag: str | None
    time: float
    traceparent: str | None = None
    trace_header: str | None = None

    @property
    def kind(self) -> EventKind:
        return self.name.kind

    @property
    def sequencer(self) -> str:
        return format_sequencer(self.seq)


def etag_matches(if_match: str, etag: str) -> bool:
    """Return whether an If-Match value lists `etag` or is "*".

    The value may list several entity tags, separated by commas, as HTTP
    allows. Quotes and a weak `W/` prefix are ignored on both sides.
    """
    listed = [tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")]
    return "*" in listed or etag.removeprefix("W/").strip('"') in listed


def format_sequencer(seq: int) -> str:
    """Format an event's sequence number as a sequencer: 18 uppercase hex digits, as in S3's events.

    The fixed width makes comparing sequencers as strings give the order of the changes.
    """
    return format(seq, "018X")


ObjectData = BinaryIO | Iterable[bytes] | bytes | bytearray | memoryview


class ObjectStore(Protocol):
    """An S3-like object store: buckets of keyed byte objects and a log of their changes.

    Every method that changes something commits (bytes and metadata) before
    it returns. Errors are the classes in `squall.services.objects.errors`.
    """

    def create_bucket(self, name: str) -> BucketInfo:
        """Create a bucket; creating one that exists returns it unchanged."""
        ...

    def delete_bucket(self, name: str) -> None:
        """Delete an empty bucket; raise `BucketNotEmpty` if it contains objects."""
        ...

    def list_buckets(self) -> list[BucketInfo]:
        """Return every bucket, sorted by name."""
        ...

    def head_bucket(self, name: str) -> BucketInfo:
        """Return a bucket's record or raise `NoSuchBucket`."""
        ...

    def put(
        self,
        bucket: str,
        key: str,
        data: ObjectData,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_none_match: bool = False,
        *,
        if_match: str | None = None,
        traceparent: str | None = None,
        trace_header: str | None = None,
    ) -> ObjectInfo:
        """Store `data` under `key`, replacing any earlier version, and log `ObjectCreated:Put` with `traceparent`.

        The change also keeps `trace_header`, the X-Ray trace header of the
        invocation that uploaded it.

        With `if_none_match` the put fails when the key exists, and with
        `if_match` it fails unless the key's ETag matches, as in S3's
        conditional writes.
        """
        ...

    def get(self, bucket: str, key: str, byte_range: str | ByteRange | None = None) -> GetResult:
        """Open an object (or a range of it, given as a Range header value) for reading."""
        ...

    def head(self, bucket: str, key: str) -> ObjectInfo:
        """Return an object's metadata or raise `NoSuchKey`."""
        ...

    def delete(
        self, bucket: str, key: str, *, traceparent: str | None = None, trace_header: str | None = None
    ) -> None:
        """Delete an object (a missing key succeeds) and log `ObjectRemoved:Delete` with `traceparent` and `trace_header`."""
        ...

    def copy(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        metadata: Mapping[str, str] | None = None,
        content_type: str | None = None,
        *,
        traceparent: str | None = None,
        trace_header: str | None = None,
    ) -> ObjectInfo:
        """Copy an object, keeping its metadata unless replaced, and log `ObjectCreated:Copy` with `traceparent` and `trace_header`."""
        ...

    def list(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str | None = None,
        max_keys: int = MAX_LIST_KEYS,
        continuation_token: str | None = None,
        start_after: str | None = None,
    ) -> ListResult:
        """List keys as S3's ListObjectsV2 does."""
        ...

    def events(self, after_seq: int = 0, limit: int = 100) -> builtins.list[ObjectEvent]:
        """Return up to `limit` logged changes with `seq` greater than `after_seq`, oldest first."""
        ...

    def trim_events(self, up_to_seq: int) -> int:
        """Delete logged changes up to and including `up_to_seq`; return how many were deleted."""
        ...

    def close(self) -> None:
        """Release the store's files; later calls raise."""
        ...
