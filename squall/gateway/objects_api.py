"""Object bytes over HTTP: `PUT`, `GET`, `HEAD` and `DELETE` on `/_squall/api/objects/{bucket}/{key}`.

Uploads stream from the ASGI `receive` channel into the store on a worker
thread, through a bounded queue, so an object is never held whole in
memory. An upload honours `If-None-Match: *` and `If-Match` as S3's
conditional writes do. Downloads stream the stored file back in chunks and honour a
`Range` header (206 with `Content-Range`, or 416 when no byte is in range).

A successful PUT responds with `{"result": ObjectInfo}` and the ETag header.
An error responds with `{"error": {"type": CODE, "message": ...}}` and the
error's status, as the services API does. Keys are percent-decoded from the raw
path as UTF-8, so they may contain slashes, spaces and any character.

While tracing is on, a PUT or DELETE logs its `traceparent` header with the
change, and the function that the change triggers joins that trace. A PUT or
DELETE from inside a function also carries the invocation's X-Ray header
(`X-Amzn-Trace-Id`), whose Lineage lets the object trigger stop a function
that keeps triggering itself through its bucket.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import queue
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from squall.gateway.http import Receive, Send, header, respond, respond_json
from squall.gateway.services_api import request_traceparent
from squall.services.args import to_json
from squall.services.errors import InvalidParameter, ServiceError
from squall.services.hub import ServiceHub
from squall.services.objects.errors import InvalidRange, PreconditionFailed
from squall.services.objects.model import GetResult, ObjectInfo, ObjectReader, ObjectStore
from squall.services.objects.validation import is_valid_trace_header

logger = logging.getLogger(__name__)

PREFIX = "/_squall/api/objects/"
METADATA_HEADER = "x-squall-meta-"
SERVICE = "objects"
ALLOWED_METHODS = "PUT, GET, HEAD, DELETE"
# Each chunk is one socket read by uvicorn, so this bounds the body waiting for the disk
# to a few MiB per upload (an estimate: the read size depends on the event loop).
MAX_BUFFERED_CHUNKS = 16

_END = object()


class IncompleteBody(InvalidParameter):
    """Raised in the store's upload thread when the client disconnects before sending the whole body."""

    code = "IncompleteBody"


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"type": code, "message": message}}


class ObjectsApi:
    """Serves object bytes: streamed uploads and downloads, HEAD and DELETE."""

    def __init__(self, hub: ServiceHub) -> None:
        self._hub = hub

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        try:
            bucket, key = _parse_path(scope)
        except ServiceError as error:
            await _send_error(send, error)
            return
        if method not in ("PUT", "GET", "HEAD", "DELETE"):
            message = f"method {method} is not allowed on {PREFIX}{bucket}/{key}: use one of {ALLOWED_METHODS}"
            await respond_json(send, 405, _error("MethodNotAllowed", message), [(b"allow", ALLOWED_METHODS.encode())])
            return

        tracked = _TrackedSend(send)
        try:
            store: ObjectStore = await self._hub.run(self._hub.store, SERVICE)
            if method == "PUT":
                await self._put(store, bucket, key, scope, receive, tracked)
            elif method == "DELETE":
                await self._hub.run(_delete, store, bucket, key, request_traceparent(scope), _trace_header(scope))
                self._hub.notify(SERVICE, bucket)
                await respond(tracked, 204, [], b"")
            else:
                await self._get(store, bucket, key, scope, tracked)
        except Exception as error:  # noqa: BLE001 - one failed request must not take the server down
            if tracked.started:
                # Too late for an error status: returning leaves the body short, and uvicorn closes the connection.
                logger.exception("%s %s/%s failed while sending the body", method, bucket, key)
            elif isinstance(error, ServiceError):
                logger.debug("%s %s/%s rejected: %s %s", method, bucket, key, error.code, error.message)
                await _send_error(tracked, error)
            else:
                logger.exception("%s %s/%s failed", method, bucket, key)
                await respond_json(tracked, 500, _error("InternalError", f"{method} {bucket}/{key} failed: {error}"))

    async def _put(
        self, store: ObjectStore, bucket: str, key: str, scope: dict[str, Any], receive: Receive, send: Send
    ) -> None:
        content_type = header(scope, b"content-type")
        metadata = _read_metadata(scope)
        if_none_match = (header(scope, b"if-none-match") or b"").strip() == b"*"
        if_match_header = header(scope, b"if-match")
        if_match = None if if_match_header is None else if_match_header.decode("latin-1")
        body = _BodyQueue(asyncio.get_running_loop())
        # NOTE: an upload occupies one of the hub's worker threads until its body ends, so
        # several slow clients can delay other service calls. A separate executor would lift this.
        upload = asyncio.ensure_future(
            self._hub.run(
                _put_streamed,
                store,
                bucket,
                key,
                body.chunks(),
                None if content_type is None else content_type.decode("latin-1"),
                metadata,
                if_none_match,
                if_match,
                request_traceparent(scope),
                _trace_header(scope),
            )
        )
        try:
            await _feed_body(receive, body, upload)
            info: ObjectInfo = await upload
        finally:
            # Unblocks the upload thread if this task is cancelled while it waits for more body.
            body.abort()
        self._hub.notify(SERVICE, bucket)
        await respond_json(send, 200, {"result": to_json(info)}, [(b"etag", info.etag.encode())])

    async def _get(self, store: ObjectStore, bucket: str, key: str, scope: dict[str, Any], send: Send) -> None:
        range_header = header(scope, b"range")
        byte_range = None if range_header is None else range_header.decode("latin-1")
        result: GetResult = await self._hub.run(store.get, bucket, key, byte_range)
        reader = result.body
        try:
            headers = _object_headers(result.info)
            # Conditional reads, as S3 responds to them: 304 when the ETag matches If-None-Match,
            # 412 when it matches no entity tag of If-Match.
            if _etag_listed(header(scope, b"if-none-match"), result.info.etag):
                await respond(send, 304, headers, b"")
                return
            if_match = header(scope, b"if-match")
            if if_match is not None and not _etag_listed(if_match, result.info.etag):
                await _send_error(send, PreconditionFailed("At least one of the pre-conditions you specified did not hold"))
                return
            headers.append((b"content-length", str(result.content_length).encode()))
            status = 200
            if result.byte_range is not None:
                status = 206
                headers.append((b"content-range", result.byte_range.content_range(result.info.size).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            if scope["method"] == "HEAD":
                await send({"type": "http.response.body", "body": b""})
                return
            await _stream_reader(self._hub, reader, send)
        finally:
            reader.close()


class _TrackedSend:
    """The ASGI `send` of one request, noting whether the response has started."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


def _put_streamed(
    store: ObjectStore,
    bucket: str,
    key: str,
    chunks: Iterator[bytes],
    content_type: str | None,
    metadata: dict[str, str],
    if_none_match: bool,
    if_match: str | None,
    traceparent: str | None,
    trace_header: str | None,
) -> ObjectInfo:
    return store.put(
        bucket,
        key,
        chunks,
        content_type=content_type,
        metadata=metadata,
        if_none_match=if_none_match,
        if_match=if_match,
        traceparent=traceparent,
        trace_header=trace_header,
    )


def _delete(store: ObjectStore, bucket: str, key: str, traceparent: str | None, trace_header: str | None) -> None:
    store.delete(bucket, key, traceparent=traceparent, trace_header=trace_header)


def _trace_header(scope: dict[str, Any]) -> str | None:
    """Return the request's `X-Amzn-Trace-Id` header, or None when it is missing or cannot be kept.

    An unusable one is ignored, as a malformed `traceparent` is, so the
    upload or delete itself still succeeds.
    """
    raw = header(scope, b"x-amzn-trace-id")
    if raw is None:
        return None
    value = raw.decode("latin-1").strip()
    return value if is_valid_trace_header(value) else None


async def _feed_body(receive: Receive, body: _BodyQueue, upload: asyncio.Future[Any]) -> None:
    """Pass request body chunks to the upload until the body ends or the upload stops reading."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            body.abort()
            return
        chunk = message.get("body", b"")
        if chunk and not await body.feed(chunk, upload):
            # The store rejected the upload early (no such bucket, too large), and its error becomes the response.
            return
        if not message.get("more_body", False):
            body.finish()
            return


async def _stream_reader(hub: ServiceHub, reader: ObjectReader, send: Send) -> None:
    while True:
        chunk: bytes = await hub.run(next, reader, b"")
        if not chunk:
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.body", "body": chunk, "more_body": True})


class _BodyQueue:
    """A bounded hand-over of body chunks from the event loop to the store's upload thread.

    The feeder waits while `MAX_BUFFERED_CHUNKS` chunks are queued. The end
    and abort markers skip that bound, so they never wait for the reader.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._space = asyncio.Event()
        self._closed = False

    async def feed(self, chunk: bytes, upload: asyncio.Future[Any]) -> bool:
        """Queue a chunk, waiting while the queue is full; return False if the upload has ended."""
        while self._queue.qsize() >= MAX_BUFFERED_CHUNKS and not upload.done():
            # Cleared before the size is read again, so a chunk taken after that sets it.
            self._space.clear()
            if self._queue.qsize() < MAX_BUFFERED_CHUNKS:
                break
            space = asyncio.ensure_future(self._space.wait())
            try:
                await asyncio.wait((space, upload), return_when=asyncio.FIRST_COMPLETED)
            finally:
                space.cancel()
        if upload.done():
            return False
        self._queue.put(chunk)
        return True

    def finish(self) -> None:
        """Mark the end of the body."""
        self._close(_END)

    def abort(self) -> None:
        """Make the upload fail with `IncompleteBody`, unless the body already ended."""
        self._close(IncompleteBody("the client disconnected before sending the whole request body: upload it again"))

    def _close(self, marker: object) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(marker)

    def chunks(self) -> Iterator[bytes]:
        """Yield the queued chunks on the upload thread; raise `IncompleteBody` if the client went away."""
        while True:
            item = self._queue.get()
            self._wake_feeder()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    def _wake_feeder(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._space.set)
        except RuntimeError:
            # The loop closed during shutdown; no feeder is left to wake.
            pass


def _parse_path(scope: dict[str, Any]) -> tuple[str, str]:
    """Split the request path into a bucket and a key, percent-decoding the key as UTF-8."""
    raw_path: bytes | None = scope.get("raw_path")
    if raw_path is None:
        path = scope["path"]
    else:
        try:
            path = unquote(raw_path.decode("ascii"), errors="strict")
        except UnicodeDecodeError:
            raise InvalidParameter(
                f"request path {raw_path[:200]!r} is invalid: percent-encode the key as UTF-8"
            ) from None
    bucket, _, key = path[len(PREFIX) :].partition("/")
    if not bucket or not key:
        raise _PathNotFound(f"path {path!r} names no object: expected {PREFIX}BUCKET/KEY")
    return bucket, key


class _PathNotFound(ServiceError):
    code = "NotFound"
    status = 404


def _read_metadata(scope: dict[str, Any]) -> dict[str, str]:
    prefix = METADATA_HEADER.encode()
    metadata: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name.startswith(prefix):
            metadata[name[len(prefix) :].decode("latin-1")] = _decode_header_value(value)
    return metadata


def _etag_listed(value: bytes | None, etag: str) -> bool:
    """Return whether a conditional header (If-Match, If-None-Match) lists the object's entity tag, or is "*"."""
    if value is None:
        return False
    tags = [tag.strip().removeprefix("W/").strip('"') for tag in value.decode("latin-1").split(",")]
    return "*" in tags or etag.strip('"') in tags


def _decode_header_value(value: bytes) -> str:
    # The SDK sends metadata values as UTF-8; a client that sends latin-1 still gets its text.
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _object_headers(info: ObjectInfo) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-type", info.content_type.encode("latin-1", errors="replace")),
        (b"etag", info.etag.encode()),
        (b"last-modified", email.utils.formatdate(info.last_modified, usegmt=True).encode()),
        (b"accept-ranges", b"bytes"),
    ]
    for name, value in sorted(info.metadata.items()):
        headers.append(((METADATA_HEADER + name).encode("latin-1"), value.encode("utf-8")))
    return headers


async def _send_error(send: Send, error: ServiceError) -> None:
    extra: list[tuple[bytes, bytes]] = []
    if isinstance(error, InvalidRange):
        extra.append((b"content-range", f"bytes */{error.size}".encode()))
    # uvicorn drops the body of a HEAD response, so a HEAD caller sees the status and headers only.
    extra.append((b"x-squall-error-type", error.code.encode()))
    await respond_json(send, error.status, _error(error.code, error.message), extra)
