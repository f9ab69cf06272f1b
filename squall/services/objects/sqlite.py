"""The embedded object store: metadata and the event log in SQLite, bytes in plain files.

A write streams the bytes to a temporary file outside the lock, syncs and
renames it into place, and only then commits the metadata row and its event
in one transaction. So a committed row always has its file, a failed write
leaves the previous version readable, and a crash between rename and commit
leaves only an unreferenced file, which the next start deletes.

SQLite runs in WAL mode with `synchronous=NORMAL`: a commit survives a crash
of the process, and on power loss only the last commits can be lost.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import fcntl
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

from squall.services.errors import ServiceError, StorageFull
from squall.services.objects.blobs import DEFAULT_CHUNK_SIZE, BlobFiles
from squall.services.objects.errors import (
    BucketNotEmpty,
    InvalidArgument,
    InvalidRequest,
    StoreInUse,
)
from squall.services.objects.listing import (
    ListPosition,
    encode_token,
    list_page,
    start_position,
    validate_list_options,
)
from squall.services.objects.model import (
    DEFAULT_MAX_OBJECT_SIZE,
    MAX_LIST_KEYS,
    BucketInfo,
    ByteRange,
    EventName,
    GetResult,
    ListResult,
    ObjectData,
    ObjectEvent,
    ObjectInfo,
    ObjectReader,
)
from squall.services.objects.ranges import resolve_range
from squall.services.objects.sqlite_queries import (
    check_absent,
    check_etag,
    connect,
    fetch_objects,
    insert_event,
    require_bucket,
    require_object,
    upsert_object,
)
from squall.services.objects.validation import (
    validate_trace_header,
    validate_bucket_name,
    validate_content_type,
    validate_if_match,
    validate_key,
    validate_metadata,
)

logger = logging.getLogger(__name__)

_MAX_EVENTS_PER_CALL = 10_000


class FileObjects:
    """An `ObjectStore` in one folder: `objects.db` for metadata and events, `blobs/` for bytes.

    Thread-safe: one lock guards the SQLite connection, and uploads stream
    outside it. Only one `FileObjects` may use a folder at a time, because
    the start-up sweep deletes files that look abandoned.
    """

    def __init__(
        self,
        root: Path,
        clock: Callable[[], float] = time.time,
        max_object_size: int = DEFAULT_MAX_OBJECT_SIZE,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        if max_object_size < 0:
            raise InvalidArgument(f"max_object_size {max_object_size!r} is invalid: expected bytes, 0 or more")
        if chunk_size <= 0:
            raise InvalidArgument(f"chunk_size {chunk_size!r} is invalid: expected bytes, 1 or more")
        self.root = Path(root)
        self.max_object_size = max_object_size
        self._clock = clock
        self._lock = threading.Lock()
        self._closed = False

        # Step 1: claim the folder, so two stores never sweep each other's files.
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock_file = _claim_folder(self.root)

        # Step 2: open the database and create the schema.
        try:
            self._blobs = BlobFiles(self.root, chunk_size)
            self._connection = connect(self.root / "objects.db")
        except BaseException:
            self._lock_file.close()
            raise

        # Step 3: delete what a crash left behind.
        self._sweep()

    # -- lifecycle ----------------------------------------------------------

    def close(self) -> None:
        """Close the database and release the folder; readers already open stay readable."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._connection.close()
            self._lock_file.close()

    def _sweep(self) -> None:
        temporary = self._blobs.remove_temporary_files()
        orphans = 0
        with self._lock:
            for blob_id in builtins.list(self._blobs.blob_ids()):
                if not self._blob_in_use(blob_id):
                    self._blobs.remove(blob_id)
                    orphans += 1
        if temporary or orphans:
            logger.info(
                "object store %s: deleted %d unfinished uploads and %d unreferenced blobs left by an earlier run",
                self.root,
                temporary,
                orphans,
            )

    # -- buckets ------------------------------------------------------------

    def create_bucket(self, name: str) -> BucketInfo:
        """Create a bucket; creating one that exists returns it unchanged."""
        validate_bucket_name(name)
        with self._transaction() as connection:
            connection.execute(
                "INSERT INTO buckets (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                (name, self._clock()),
            )
            row = connection.execute("SELECT name, created_at FROM buckets WHERE name = ?", (name,)).fetchone()
        return BucketInfo(row[0], row[1])

    def delete_bucket(self, name: str) -> None:
        """Delete an empty bucket; raise `BucketNotEmpty` if it contains objects."""
        validate_bucket_name(name)
        with self._transaction() as connection:
            require_bucket(connection, name)
            if connection.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)).fetchone():
                raise BucketNotEmpty(f"bucket {name!r} is not empty: delete its objects first")
            connection.execute("DELETE FROM buckets WHERE name = ?", (name,))

    def list_buckets(self) -> builtins.list[BucketInfo]:
        """Return every bucket, sorted by name."""
        with self._connected() as connection:
            rows = connection.execute("SELECT name, created_at FROM buckets ORDER BY name").fetchall()
        return [BucketInfo(name, created_at) for name, created_at in rows]

    def head_bucket(self, name: str) -> BucketInfo:
        """Return a bucket's record or raise `NoSuchBucket`."""
        validate_bucket_name(name)
        with self._connected() as connection:
            return require_bucket(connection, name)

    # -- objects ------------------------------------------------------------

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
        """Stream `data` into the store under `key`, replacing any earlier version.

        The logged event keeps `traceparent`, the uploader's W3C trace
        context, and `trace_header`, the X-Ray trace header of the invocation
        that uploaded it. With `if_none_match`, raise `PreconditionFailed` if the key
        exists (S3's `If-None-Match: *`). With `if_match` (an If-Match value:
        an ETag, a comma-separated list of them, or "*"), raise `NoSuchKey` if
        the key is missing and `PreconditionFailed` if its ETag is not listed,
        as S3's conditional writes do. The commit checks both conditions again,
        so a write that lands during the upload still fails it. Raises
        `EntityTooLarge` while streaming once `max_object_size` is passed and
        `StorageFull` when the disk is full; on any error the previous version
        stays readable.
        """
        validate_bucket_name(bucket)
        validate_key(key)
        stored_type = validate_content_type(content_type)
        validate_trace_header(trace_header)
        stored_metadata = validate_metadata(metadata)
        validate_if_match(if_match)

        # Fail before streaming what would be refused anyway; the transaction checks again.
        with self._connected() as connection:
            require_bucket(connection, bucket)
            _check_write_conditions(connection, bucket, key, if_none_match, if_match)

        blob = self._blobs.write(data, self.max_object_size, f"{bucket}/{key}")
        info = ObjectInfo(
            bucket=bucket,
            key=key,
            size=blob.size,
            etag=f'"{blob.md5}"',
            content_type=stored_type,
            last_modified=self._clock(),
            metadata=stored_metadata,
        )
        try:
            replaced = self._commit_object(
                info, blob.blob_id, EventName.PUT, if_none_match=if_none_match, if_match=if_match,
                traceparent=traceparent, trace_header=trace_header,
            )
        except BaseException:
            self._blobs.remove(blob.blob_id)
            raise
        if replaced is not None:
            self._release_blob(replaced)
        return info

    def get(self, bucket: str, key: str, byte_range: str | ByteRange | None = None) -> GetResult:
        """Open an object, or the range of it that `byte_range` selects, for reading.

        `byte_range` is a Range header value (see `parse_range`) or a
        `ByteRange`. The reader returns this version's bytes even if the key
        is overwritten or deleted while it is open.
        """
        validate_bucket_name(bucket)
        validate_key(key)
        with self._connected() as connection:
            info, blob_id = require_object(connection, bucket, key)
            served = resolve_range(byte_range, info.size)
            # Opened under the lock, so a concurrent delete cannot remove the file first.
            file = self._open_blob(blob_id, info)
        try:
            start, length = (0, info.size) if served is None else (served.start, served.length)
            body = ObjectReader(file, start, length, self._blobs.chunk_size)
        except BaseException:
            file.close()
            raise
        return GetResult(info, served, body)

    def head(self, bucket: str, key: str) -> ObjectInfo:
        """Return an object's metadata or raise `NoSuchKey`."""
        validate_bucket_name(bucket)
        validate_key(key)
        with self._connected() as connection:
            return require_object(connection, bucket, key)[0]

    def delete(
        self, bucket: str, key: str, *, traceparent: str | None = None, trace_header: str | None = None
    ) -> None:
        """Delete an object and log `ObjectRemoved:Delete` with `traceparent` and `trace_header`; a missing key succeeds, as in S3."""
        validate_bucket_name(bucket)
        validate_key(key)
        validate_trace_header(trace_header)
        with self._transaction() as connection:
            require_bucket(connection, bucket)
            row = connection.execute(
                "DELETE FROM objects WHERE bucket = ? AND key = ? RETURNING blob", (bucket, key)
            ).fetchone()
            # NOTE: a delete of a missing key is logged too, because S3 is
            # believed to notify every delete request; not checked against S3.
            insert_event(
                connection, bucket, key, EventName.DELETE, None, None, self._clock(), traceparent, trace_header
            )
        if row is not None:
            self._release_blob(row[0])

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
        """Copy an object and log `ObjectCreated:Copy` with `traceparent` and `trace_header`; the copy shares the source's blob file.

        The copy keeps the source's metadata and content type unless
        `metadata` or `content_type` replaces them. Copying an object onto
        itself without replacing either raises `InvalidRequest`, as in S3.
        """
        for name in (src_bucket, dst_bucket):
            validate_bucket_name(name)
        validate_key(src_key)
        validate_key(dst_key)
        validate_trace_header(trace_header)
        new_metadata = None if metadata is None else validate_metadata(metadata)
        new_type = None if content_type is None else validate_content_type(content_type)
        if (src_bucket, src_key) == (dst_bucket, dst_key) and new_metadata is None and new_type is None:
            raise InvalidRequest(
                f"copy of {src_bucket}/{src_key} onto itself changes nothing: replace its metadata or"
                " content type, or copy it to another key"
            )

        with self._transaction() as connection:
            source, blob_id = require_object(connection, src_bucket, src_key)
            require_bucket(connection, dst_bucket)
            info = ObjectInfo(
                bucket=dst_bucket,
                key=dst_key,
                size=source.size,
                etag=source.etag,
                content_type=source.content_type if new_type is None else new_type,
                last_modified=self._clock(),
                metadata=dict(source.metadata) if new_metadata is None else new_metadata,
            )
            replaced = upsert_object(connection, info, blob_id)
            insert_event(
                connection, dst_bucket, dst_key, EventName.COPY, info.size, info.etag, info.last_modified,
                traceparent, trace_header,
            )
        if replaced is not None and replaced != blob_id:
            self._release_blob(replaced)
        return info

    def list(
        self,
        bucket: str,
        prefix: str = "",
        delimiter: str | None = None,
        max_keys: int = MAX_LIST_KEYS,
        continuation_token: str | None = None,
        start_after: str | None = None,
    ) -> ListResult:
        """List the bucket's keys as S3's ListObjectsV2 does; see `ListResult`."""
        validate_bucket_name(bucket)
        capped = validate_list_options(prefix, delimiter, max_keys)
        start = start_position(continuation_token, start_after)
        with self._connected() as connection:
            require_bucket(connection, bucket)

            def fetch(lower: ListPosition | None, upper: str | None, limit: int) -> Sequence[ObjectInfo]:
                return fetch_objects(connection, bucket, lower, upper, limit)

            page = list_page(fetch, prefix, delimiter or None, capped, start)
        next_token = None if page.next_position is None else encode_token(page.next_position)
        return ListResult(
            bucket=bucket,
            prefix=prefix,
            delimiter=delimiter,
            max_keys=capped,
            contents=page.contents,
            common_prefixes=page.common_prefixes,
            is_truncated=next_token is not None,
            next_continuation_token=next_token,
            start_after=start_after,
            continuation_token=continuation_token,
        )

    # -- event log ----------------------------------------------------------

    def events(self, after_seq: int = 0, limit: int = 100) -> builtins.list[ObjectEvent]:
        """Return up to `limit` changes with `seq` greater than `after_seq`, oldest first."""
        if isinstance(after_seq, bool) or not isinstance(after_seq, int) or after_seq < 0:
            raise InvalidArgument(f"after_seq {after_seq!r} is invalid: expected an event seq, 0 or more")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _MAX_EVENTS_PER_CALL:
            raise InvalidArgument(f"limit {limit!r} is invalid: expected an integer from 1 to {_MAX_EVENTS_PER_CALL}")
        with self._connected() as connection:
            rows = connection.execute(
                "SELECT seq, bucket, key, name, size, etag, time, traceparent, trace_header FROM events"
                " WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [
            ObjectEvent(
                seq=seq, bucket=bucket, key=key, name=EventName(name), size=size, etag=etag, time=at,
                traceparent=traceparent, trace_header=trace_header,
            )
            for seq, bucket, key, name, size, etag, at, traceparent, trace_header in rows
        ]

    def trim_events(self, up_to_seq: int) -> int:
        """Delete logged changes up to and including `up_to_seq`; return how many were deleted."""
        if isinstance(up_to_seq, bool) or not isinstance(up_to_seq, int):
            raise InvalidArgument(f"up_to_seq {up_to_seq!r} is invalid: expected an event seq")
        with self._transaction() as connection:
            return connection.execute("DELETE FROM events WHERE seq <= ?", (up_to_seq,)).rowcount

    # -- internals ----------------------------------------------------------

    def _commit_object(
        self,
        info: ObjectInfo,
        blob_id: str,
        event: EventName,
        *,
        if_none_match: bool,
        if_match: str | None,
        traceparent: str | None,
        trace_header: str | None,
    ) -> str | None:
        """Commit the object row and its event; return the blob id of the version replaced."""
        with self._transaction() as connection:
            require_bucket(connection, info.bucket)
            _check_write_conditions(connection, info.bucket, info.key, if_none_match, if_match)
            replaced = upsert_object(connection, info, blob_id)
            insert_event(
                connection, info.bucket, info.key, event, info.size, info.etag, info.last_modified,
                traceparent, trace_header,
            )
        return replaced

    def _release_blob(self, blob_id: str) -> None:
        # Runs after the commit, so a crash before it leaves an orphan file
        # for the next sweep, never a row without its file.
        # NOTE: with synchronous=NORMAL, a power loss right after this can
        # undo the commit while the deletion stays on disk. A SIGKILL cannot.
        with self._lock:
            if self._closed:
                return
            try:
                in_use = self._blob_in_use(blob_id)
            except sqlite3.Error as exc:
                logger.warning("could not check blob %s, the next start deletes it if unused: %s", blob_id, exc)
                return
            if not in_use:
                self._blobs.remove(blob_id)

    def _blob_in_use(self, blob_id: str) -> bool:
        row = self._connection.execute("SELECT 1 FROM objects WHERE blob = ? LIMIT 1", (blob_id,)).fetchone()
        return row is not None

    def _open_blob(self, blob_id: str, info: ObjectInfo) -> IO[bytes]:
        try:
            return self._blobs.open(blob_id)
        except FileNotFoundError:
            logger.error("object %s/%s: blob file %s is missing", info.bucket, info.key, blob_id)
            raise ServiceError(
                f"object {info.bucket}/{info.key} cannot be read: its data file is missing from"
                f" {self.root}; delete the object or upload it again"
            ) from None

    @contextlib.contextmanager
    def _connected(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise ServiceError(f"object store {self.root} is closed")
            with _storage_errors(self.root):
                yield self._connection

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connected() as connection:
            # IMMEDIATE takes the write lock first, so a busy database fails before any change.
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise


def _check_write_conditions(
    connection: sqlite3.Connection, bucket: str, key: str, if_none_match: bool, if_match: str | None
) -> None:
    if if_none_match:
        check_absent(connection, bucket, key)
    if if_match is not None:
        check_etag(connection, bucket, key, if_match)


def _claim_folder(root: Path) -> IO[bytes]:
    lock_file = open(root / "lock", "ab")
    try:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        lock_file.close()
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            raise StoreInUse(
                f"object store folder {root} is in use by another store: close it first or use another folder"
            ) from None
        raise
    return lock_file


@contextlib.contextmanager
def _storage_errors(root: Path) -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL or "is full" in str(exc):
            raise StorageFull(
                f"object store {root}: the database could not grow ({exc}); free disk space and try again"
            ) from exc
        raise
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull(f"object store {root}: no space left on the disk; free disk space and try again") from exc
        raise
