"""Buckets of Squall's object store, from Python code.

Object bytes travel on the streamed object routes (`/_squall/api/objects/`);
buckets, metadata, copies and listings go through the services API. Errors
raise `RemoteError` with S3's error code, such as `NoSuchKey` or
`NoSuchBucket`.

    from squall.sdk.objects import Bucket

    photos = Bucket("photos")
    photos.put("cats/tom.jpg", open("tom.jpg", "rb"), content_type="image/jpeg")
    data = photos.get("cats/tom.jpg")
"""

from __future__ import annotations

import builtins
import email.utils
import http.client
import io
import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from squall.sdk.client import Client, RemoteError, default_client, path_segment, trace_headers, xray_trace_header

OBJECTS_PREFIX = "/_squall/api/objects/"
METADATA_HEADER = "x-squall-meta-"
SERVICE = "objects"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
STREAM_CHUNK_BYTES = 1024 * 1024
# The server returns at most 1000 entries a page, as S3's ListObjectsV2 does.
MAX_PAGE_SIZE = 1000

# A metadata name becomes part of an HTTP header name, so it must be an HTTP token.
_HEADER_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


@dataclass(frozen=True)
class BucketInfo:
    """A bucket and the time it was created (epoch seconds)."""

    name: str
    created_at: float


@dataclass(frozen=True)
class ObjectInfo:
    """An object's size, quoted ETag (the MD5 of its bytes), content type, time and user metadata.

    `last_modified` is in epoch seconds. Read from the headers of a download,
    it has whole-second precision, as HTTP dates do.
    """

    bucket: str
    key: str
    size: int
    etag: str
    content_type: str
    last_modified: float
    metadata: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ObjectInfo:
        return cls(
            bucket=value["bucket"],
            key=value["key"],
            size=value["size"],
            etag=value["etag"],
            content_type=value["content_type"],
            last_modified=value["last_modified"],
            metadata=dict(value.get("metadata") or {}),
        )


@dataclass(frozen=True)
class CommonPrefix:
    """A group of keys that `Bucket.list` rolls up under a delimiter, such as "photos/" for "/"."""

    prefix: str


class ObjectStream(io.RawIOBase):
    """The bytes of one object, read from the server as they are needed.

    A readable binary file: use `read`, iterate it in lines, or pass it to
    `shutil.copyfileobj`. `info` is the object's metadata. Close it (or use
    it as a context manager) to release its connection.
    """

    def __init__(self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse,
                 info: ObjectInfo) -> None:
        super().__init__()
        self._connection = connection
        self._response = response
        self.info = info

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._response.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._response.close()
            self._connection.close()
        super().close()


class Bucket:
    """One bucket of the object store.

        uploads = Bucket("uploads")
        info = uploads.put("reports/2024.csv", b"id,total\\n1,20\\n", content_type="text/csv")
        for entry in uploads.list(prefix="reports/"):
            print(entry.key, entry.size)
    """

    def __init__(self, name: str, client: Client | None = None) -> None:
        self.name = name
        self.client = client or default_client()

    def __repr__(self) -> str:
        return f"Bucket({self.name!r}, endpoint={self.client.endpoint!r})"

    def info(self) -> BucketInfo:
        """Return the bucket's record; raises RemoteError `NoSuchBucket` if it does not exist."""
        return BucketInfo(**self.client.call(SERVICE, "head_bucket", bucket=self.name))

    def put(self, key: str, data: bytes | str | BinaryIO, content_type: str | None = None,
            metadata: Mapping[str, str] | None = None, *, if_match: str | None = None,
            if_none_match: bool = False) -> ObjectInfo:
        """Store `data` under `key`, replacing any earlier object, and return its metadata.

        A str is sent as UTF-8 (content type `text/plain; charset=utf-8` unless
        given). A binary file is streamed in chunks without reading it whole.
        `metadata` names are case-insensitive and come back in lower case.
        Inside a traced invocation, a function this upload triggers joins its trace.
        Inside any invocation, the upload carries the invocation's X-Ray trace
        header, which lets the server stop a function that keeps triggering
        itself through the bucket.

        The conditions are S3's conditional writes. With `if_none_match`, the
        put fails with `PreconditionFailed` (HTTP 412) when the key exists.
        With `if_match` (an ETag as a put or head returned it), the put fails
        with `PreconditionFailed` when the object's ETag differs, and with
        `NoSuchKey` (HTTP 404) when there is no object.

            Bucket("logs").put("app/today.log", open("app.log", "rb"))
            info = Bucket("config").head("app.json")
            Bucket("config").put("app.json", new_text, if_match=info.etag)
        """
        headers = (_metadata_headers(metadata) | trace_headers() | _xray_header()
                   | _condition_headers(if_match, if_none_match))
        body: bytes
        if isinstance(data, str):
            body = data.encode("utf-8")
            content_type = content_type or TEXT_CONTENT_TYPE
        elif isinstance(data, (bytes, bytearray, memoryview)):
            body = bytes(data)
        elif isinstance(data, io.TextIOBase):
            raise TypeError(f"object data for key {key!r} is a text file: open the file in binary mode ('rb')")
        elif callable(getattr(data, "read", None)):
            return self._put_streamed(key, data, headers | _content_type_header(content_type))
        else:
            raise TypeError(
                f"object data for key {key!r} is a {type(data).__name__}: expected bytes, str or a binary file"
            )
        headers |= _content_type_header(content_type)
        status, _, response = self.client.request("PUT", self._path(key), body, headers)
        return ObjectInfo.from_json(_result(status, response))

    def _put_streamed(self, key: str, file: BinaryIO, headers: dict[str, Any]) -> ObjectInfo:
        # A file cannot be sent again if a kept-alive connection turns out closed,
        # so it goes on a fresh connection; http.client sends it chunked.
        connection, response = self._send_streamed("PUT", key, file, headers)
        try:
            data = response.read()
        finally:
            connection.close()
        return ObjectInfo.from_json(_result(response.status, data))

    def get(self, key: str, range: str | tuple[int, int | None] | None = None) -> bytes:
        """Return the object's bytes, or those of a byte range.

        `range` is a Range header value such as "bytes=0-99" or "bytes=-10",
        or a pair (first, last) of inclusive byte offsets (last None: to the end).

            first_kb = Bucket("logs").get("app/today.log", range=(0, 1023))
        """
        headers = {} if range is None else {"Range": _range_header(range)}
        status, _, data = self.client.request("GET", self._path(key), None, headers)
        if status not in (200, 206):
            _result(status, data)
        return data

    def open(self, key: str) -> ObjectStream:
        """Open the object for reading as a stream, without loading it whole.

            with Bucket("videos").open("intro.mp4") as stream:
                header = stream.read(64)
        """
        connection, response = self._send_streamed("GET", key)
        if response.status != 200:
            try:
                data = response.read()
            finally:
                connection.close()
            _result(response.status, data)
        try:
            info = _info_from_headers(self.name, key, response)
        except (KeyError, ValueError):
            connection.close()
            raise
        return ObjectStream(connection, response, info)

    def download(self, key: str, path: str | os.PathLike[str]) -> ObjectInfo:
        """Stream the object into the file at `path`, which appears only once the download is complete.

            Bucket("videos").download("intro.mp4", "/tmp/intro.mp4")
        """
        target = Path(path)
        partial = target.with_name(target.name + ".part")
        with self.open(key) as stream:
            try:
                with builtins.open(partial, "wb") as file:
                    shutil.copyfileobj(stream, file, STREAM_CHUNK_BYTES)
                os.replace(partial, target)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            return stream.info

    def head(self, key: str) -> ObjectInfo:
        """Return the object's metadata; raises RemoteError `NoSuchKey` if it does not exist."""
        return ObjectInfo.from_json(self.client.call(SERVICE, "head", bucket=self.name, key=key))

    def delete(self, key: str) -> None:
        """Delete the object; deleting a missing key succeeds, as in S3."""
        self.client.call(SERVICE, "delete", bucket=self.name, key=key, trace_header=xray_trace_header())

    def copy(self, src_key: str, dst_key: str, dst_bucket: str | None = None) -> ObjectInfo:
        """Copy an object of this bucket to `dst_key` (in `dst_bucket`, default this bucket) with its metadata.

            Bucket("drafts").copy("post.md", "post.md", dst_bucket="published")
        """
        result = self.client.call(SERVICE, "copy", bucket=dst_bucket or self.name, key=dst_key,
                                  src_bucket=self.name, src_key=src_key, trace_header=xray_trace_header())
        return ObjectInfo.from_json(result)

    def list(self, prefix: str = "", delimiter: str | None = None,
             page_size: int = MAX_PAGE_SIZE) -> Iterator[ObjectInfo | CommonPrefix]:
        """Yield the objects whose keys start with `prefix`, in key order, fetching pages as needed.

        With a `delimiter`, keys that contain it after the prefix are rolled
        up into one `CommonPrefix` each, as S3's ListObjectsV2 does.
        `page_size` is the number of entries fetched per request (at most 1000).

            for entry in Bucket("photos").list(prefix="2024/", delimiter="/"):
                print(entry.prefix if isinstance(entry, CommonPrefix) else entry.key)
        """
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size {page_size!r} is invalid: expected a whole number from 1 to {MAX_PAGE_SIZE}")
        token: str | None = None
        while True:
            page = self.client.call(SERVICE, "list", bucket=self.name, prefix=prefix, delimiter=delimiter,
                                    max_keys=page_size, continuation_token=token)
            entries: builtins.list[tuple[str, ObjectInfo | CommonPrefix]] = [
                (item["key"], ObjectInfo.from_json(item)) for item in page["contents"]
            ]
            entries += [(name, CommonPrefix(name)) for name in page["common_prefixes"]]
            entries.sort(key=lambda entry: entry[0])
            for _, entry in entries:
                yield entry
            token = page.get("next_continuation_token")
            if not page.get("is_truncated") or not token:
                return

    def _path(self, key: str) -> str:
        return OBJECTS_PREFIX + path_segment(self.name) + "/" + path_segment(key)

    def _send_streamed(self, method: str, key: str, body: BinaryIO | None = None,
                       headers: dict[str, Any] | None = None) -> tuple[http.client.HTTPConnection,
                                                                      http.client.HTTPResponse]:
        """Send one request on a new connection, which the caller closes after reading the response."""
        parts = urlsplit(self.client.endpoint)
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80,
                                                timeout=self.client.timeout_s, blocksize=STREAM_CHUNK_BYTES)
        headers = dict(headers or {})
        if self.client.token:
            headers["Authorization"] = f"Bearer {self.client.token}"
        try:
            try:
                connection.request(method, self._path(key), body=body, headers=headers)
            except (BrokenPipeError, ConnectionResetError) as sending:
                # A server that rejects an upload may respond and close before it reads the
                # whole body. Its response then gives the reason, where the broken pipe would not.
                try:
                    return connection, connection.getresponse()
                except (OSError, http.client.HTTPException):
                    raise sending from None
            return connection, connection.getresponse()
        except BaseException:
            connection.close()
            raise


def create_bucket(name: str, client: Client | None = None) -> Bucket:
    """Create a bucket (creating one that exists succeeds) and return it.

        photos = create_bucket("photos")
    """
    bucket = Bucket(name, client)
    bucket.client.call(SERVICE, "create_bucket", bucket=name)
    return bucket


def delete_bucket(name: str, client: Client | None = None) -> None:
    """Delete an empty bucket; raises RemoteError `BucketNotEmpty` if it contains objects."""
    (client or default_client()).call(SERVICE, "delete_bucket", bucket=name)


def list_buckets(client: Client | None = None) -> list[BucketInfo]:
    """Return every bucket, sorted by name."""
    return [BucketInfo(**item) for item in (client or default_client()).call(SERVICE, "list_buckets")]


def _result(status: int, data: bytes) -> Any:
    """Return the `result` of a JSON response body, or raise RemoteError for an error status."""
    try:
        document = json.loads(data) if data else {}
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    if status >= 300:
        error = document.get("error") if isinstance(document.get("error"), dict) else {}
        message = error.get("message") or f"HTTP {status}: {data[:200]!r}"
        raise RemoteError(error.get("type", "Error"), message, status)
    return document.get("result")


def _metadata_headers(metadata: Mapping[str, str] | None) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    for name, value in (metadata or {}).items():
        if not isinstance(name, str) or _HEADER_TOKEN.fullmatch(name) is None:
            raise ValueError(
                f"metadata name {name!r} is invalid: use letters, digits and !#$%&'*+-.^_`|~"
                " (the characters of an HTTP header name)"
            )
        if not isinstance(value, str):
            raise ValueError(f"metadata value {value!r} of {name!r} is invalid: expected a string")
        # http.client would encode a str as latin-1; the server decodes UTF-8.
        headers[METADATA_HEADER + name] = value.encode("utf-8")
    return headers


def _xray_header() -> dict[str, str]:
    """Return the `X-Amzn-Trace-Id` header of the current invocation, or no header outside one."""
    trace_header = xray_trace_header()
    return {} if trace_header is None else {"X-Amzn-Trace-Id": trace_header}


def _condition_headers(if_match: str | None, if_none_match: bool) -> dict[str, str]:
    headers: dict[str, str] = {}
    if if_match is not None:
        if not isinstance(if_match, str) or not if_match.strip():
            raise ValueError(f"if_match {if_match!r} is invalid: expected an ETag, such as ObjectInfo.etag")
        headers["If-Match"] = if_match
    if if_none_match:
        headers["If-None-Match"] = "*"
    return headers


def _content_type_header(content_type: str | None) -> dict[str, str]:
    return {} if content_type is None else {"Content-Type": content_type}


def _range_header(byte_range: str | tuple[int, int | None]) -> str:
    if isinstance(byte_range, str):
        return byte_range
    first, last = byte_range
    return f"bytes={first}-" if last is None else f"bytes={first}-{last}"


def _info_from_headers(bucket: str, key: str, response: http.client.HTTPResponse) -> ObjectInfo:
    metadata = {
        name[len(METADATA_HEADER):]: value.encode("latin-1").decode("utf-8", errors="replace")
        for name, value in ((name.lower(), value) for name, value in response.getheaders())
        if name.startswith(METADATA_HEADER)
    }
    modified = email.utils.parsedate_to_datetime(response.headers["Last-Modified"])
    return ObjectInfo(
        bucket=bucket,
        key=key,
        size=int(response.headers["Content-Length"]),
        etag=response.headers["ETag"],
        content_type=response.headers["Content-Type"],
        last_modified=modified.timestamp(),
        metadata=metadata,
    )
