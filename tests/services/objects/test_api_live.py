"""The object store on a real server: the streamed object routes, the JSON operations, and the SDK's `Bucket`."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from squall.sdk.client import Client, RemoteError
from squall.sdk.objects import Bucket, CommonPrefix, ObjectInfo, create_bucket, delete_bucket, list_buckets
from tests.conftest import RunningServer, start_server

OBJECTS = "/_squall/api/objects/"

MANIFEST = """\
service: objects-live
functions:
  store:
    handler: handlers.store
    events:
      - http: {method: POST, path: "/store"}
"""

# The function writes the request's text to the bucket through the SDK, which
# finds the server through SQUALL_ENDPOINT, then reads it back.
HANDLERS = """\
import json

from squall.sdk.objects import Bucket


def store(event, context):
    request = json.loads(event["body"])
    bucket = Bucket(request["bucket"])
    info = bucket.put(request["key"], request["text"], metadata={"writer": context.function_name})
    stored = bucket.get(request["key"]).decode()
    return {"statusCode": 200, "body": json.dumps({"etag": info.etag, "stored": stored})}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server for the module; every test works in buckets of its own."""
    folder = tmp_path_factory.mktemp("app")
    (folder / "squall.yml").write_text(MANIFEST)
    (folder / "handlers.py").write_text(HANDLERS)
    running = start_server(folder, tmp_path_factory.mktemp("data"))
    yield running
    running.stop()


@pytest.fixture
def client(server: RunningServer) -> Client:
    return Client(server.endpoint)


@pytest.fixture
def bucket(client: Client) -> Bucket:
    return create_bucket(f"live-{uuid.uuid4().hex[:12]}", client)


def object_url(server: RunningServer, bucket: Bucket, quoted_key: str) -> str:
    return f"{server.endpoint}{OBJECTS}{bucket.name}/{quoted_key}"


def remote_error(call: Any) -> RemoteError:
    with pytest.raises(RemoteError) as caught:
        call()
    return caught.value


# Buckets


def test_bucket_lifecycle(client: Client) -> None:
    name = f"life-{uuid.uuid4().hex[:12]}"

    created = create_bucket(name, client)

    assert created.info().name == name
    assert name in [info.name for info in list_buckets(client)]
    delete_bucket(name, client)
    error = remote_error(created.info)
    assert error.code == "NoSuchBucket"
    assert name in error.message


def test_create_existing_bucket_succeeds(bucket: Bucket, client: Client) -> None:
    before = bucket.info()

    again = create_bucket(bucket.name, client)

    assert again.info() == before


def test_delete_bucket_with_objects_rejected(bucket: Bucket, client: Client) -> None:
    bucket.put("keep.txt", b"x")

    error = remote_error(lambda: delete_bucket(bucket.name, client))

    assert error.code == "BucketNotEmpty"
    assert error.status == 409
    assert bucket.name in error.message


# Put and get


@pytest.mark.parametrize(
    ("key", "data", "expected"),
    [
        ("plain.bin", b"\x00\x01binary\xff", b"\x00\x01binary\xff"),
        ("text/hello.txt", "héllo wörld", "héllo wörld".encode()),
        ("streamed/file.bin", io.BytesIO(b"from a file" * 1000), b"from a file" * 1000),
        ("a b/ü/%2F?#x.txt", b"odd key", b"odd key"),
        ("dots/../and//doubles/", b"slashes kept", b"slashes kept"),
        ("emoji 🙂.txt", b"", b""),
    ],
)
def test_put_get_round_trip(bucket: Bucket, key: str, data: Any, expected: bytes) -> None:
    info = bucket.put(key, data)

    assert bucket.get(key) == expected
    assert info.key == key
    assert info.size == len(expected)
    assert info.etag == f'"{hashlib.md5(expected).hexdigest()}"'
    assert [entry.key for entry in bucket.list() if isinstance(entry, ObjectInfo)] == [key]


def test_content_type_and_metadata_kept(bucket: Bucket) -> None:
    bucket.put("photo.jpg", b"jpeg bytes", content_type="image/jpeg", metadata={"Owner": "zoë", "album": "2024"})

    info = bucket.head("photo.jpg")

    assert info.content_type == "image/jpeg"
    assert info.metadata == {"owner": "zoë", "album": "2024"}


def test_str_defaults_to_text_content_type(bucket: Bucket) -> None:
    bucket.put("note.txt", "text")

    assert bucket.head("note.txt").content_type == "text/plain; charset=utf-8"


def test_put_replaces_object(bucket: Bucket) -> None:
    bucket.put("key", b"first version")
    bucket.put("key", b"second")

    assert bucket.get("key") == b"second"
    assert bucket.head("key").size == len(b"second")


def test_large_upload_streams_both_ways(bucket: Bucket, tmp_path: Path) -> None:
    data = bytes(range(256)) * (24 * 1024 + 3)  # about 6 MB, over several chunks each way

    info = bucket.put("large.bin", io.BytesIO(data))
    with bucket.open("large.bin") as stream:
        first = stream.read(1000)
        rest = stream.read()
    downloaded = bucket.download("large.bin", tmp_path / "large.bin")

    assert info.size == len(data)
    assert first + rest == data
    assert stream.info.etag == info.etag
    assert (tmp_path / "large.bin").read_bytes() == data
    assert downloaded.size == len(data)
    assert not (tmp_path / "large.bin.part").exists()


class GeneratedFile(io.RawIOBase):
    """A readable file of `size` bytes made up on the fly, so the test itself holds little memory."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.remaining = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self.remaining)
        buffer[:count] = b"z" * count
        self.remaining -= count
        return count


def peak_memory_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kilobytes) * 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak memory from /proc")
def test_upload_not_held_in_memory(bucket: Bucket, server: RunningServer) -> None:
    size = 96 * 1024 * 1024
    before = peak_memory_bytes(server.process.pid)

    info = bucket.put("huge.bin", GeneratedFile(size))

    growth = peak_memory_bytes(server.process.pid) - before
    assert info.size == size
    assert growth < size // 2, f"the server's peak memory grew by {growth} bytes during a {size}-byte upload"


@pytest.mark.parametrize(
    ("byte_range", "expected"),
    [
        ((0, 3), b"0123"),
        ((6, None), b"6789"),
        ((8, 100), b"89"),
        ("bytes=-3", b"789"),
        ("bytes=4-4", b"4"),
    ],
)
def test_get_byte_range(bucket: Bucket, byte_range: Any, expected: bytes) -> None:
    bucket.put("digits", b"0123456789")

    assert bucket.get("digits", range=byte_range) == expected


def test_unsatisfiable_range_rejected(bucket: Bucket, server: RunningServer) -> None:
    bucket.put("digits", b"0123456789")

    error = remote_error(lambda: bucket.get("digits", range=(10, 20)))
    response = httpx.get(object_url(server, bucket, "digits"), headers={"Range": "bytes=10-"}, timeout=20)

    assert error.code == "InvalidRange"
    assert error.status == 416
    assert "10 bytes" in error.message
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */10"


# The raw HTTP routes


def test_get_headers(bucket: Bucket, server: RunningServer) -> None:
    info = bucket.put("page.html", b"<p>hi</p>", content_type="text/html", metadata={"lang": "en"})

    response = httpx.get(object_url(server, bucket, "page.html"), timeout=20)

    assert response.status_code == 200
    assert response.content == b"<p>hi</p>"
    assert response.headers["content-type"] == "text/html"
    assert response.headers["content-length"] == "9"
    assert response.headers["etag"] == info.etag
    assert response.headers["last-modified"].endswith(" GMT")
    assert response.headers["x-squall-meta-lang"] == "en"


def test_conditional_get_by_etag(bucket: Bucket, server: RunningServer) -> None:
    info = bucket.put("page.html", b"<p>hi</p>")
    url = object_url(server, bucket, "page.html")

    unchanged = httpx.get(url, headers={"If-None-Match": info.etag}, timeout=20)
    changed = httpx.get(url, headers={"If-None-Match": '"0123"'}, timeout=20)
    other = httpx.get(url, headers={"If-Match": '"0123"'}, timeout=20)
    same = httpx.get(url, headers={"If-Match": info.etag}, timeout=20)

    # As S3 responds to conditional reads.
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == info.etag
    assert changed.status_code == 200
    assert other.status_code == 412
    assert same.status_code == 200
    assert same.content == b"<p>hi</p>"


def test_ranged_get_returns_206(bucket: Bucket, server: RunningServer) -> None:
    bucket.put("digits", b"0123456789")

    response = httpx.get(object_url(server, bucket, "digits"), headers={"Range": "bytes=2-5"}, timeout=20)

    assert response.status_code == 206
    assert response.content == b"2345"
    assert response.headers["content-range"] == "bytes 2-5/10"
    assert response.headers["content-length"] == "4"


def test_raw_put_with_headers(bucket: Bucket, server: RunningServer) -> None:
    response = httpx.put(
        object_url(server, bucket, "raw%20key%2Fpart"),
        content=b"raw body",
        headers={"Content-Type": "application/x-raw", "x-squall-meta-source": "httpx"},
        timeout=20,
    )

    info = bucket.head("raw key/part")
    assert response.status_code == 200
    assert response.json()["result"]["key"] == "raw key/part"
    assert response.headers["etag"] == info.etag
    assert info.content_type == "application/x-raw"
    assert info.metadata == {"source": "httpx"}


def test_unusable_trace_header_ignored(bucket: Bucket, server: RunningServer) -> None:
    response = httpx.put(
        object_url(server, bucket, "traced"),
        content=b"body",
        headers={"X-Amzn-Trace-Id": "Root=1 with spaces", "x-squall-meta-source": "httpx"},
        timeout=20,
    )

    assert response.status_code == 200
    assert bucket.get("traced") == b"body"
    assert bucket.head("traced").metadata == {"source": "httpx"}


def test_put_if_none_match_keeps_existing(bucket: Bucket, server: RunningServer) -> None:
    bucket.put("once", b"first")

    response = httpx.put(
        object_url(server, bucket, "once"), content=b"second", headers={"If-None-Match": "*"}, timeout=20
    )

    assert response.status_code == 412
    assert response.json()["error"]["type"] == "PreconditionFailed"
    assert bucket.get("once") == b"first"


def test_head_returns_headers_only(bucket: Bucket, server: RunningServer) -> None:
    bucket.put("doc", b"twelve bytes")

    found = httpx.head(object_url(server, bucket, "doc"), timeout=20)
    missing = httpx.head(object_url(server, bucket, "absent"), timeout=20)

    assert found.status_code == 200
    assert found.headers["content-length"] == "12"
    assert found.content == b""
    assert missing.status_code == 404
    assert missing.headers["x-squall-error-type"] == "NoSuchKey"


def test_raw_delete_removes_object(bucket: Bucket, server: RunningServer) -> None:
    bucket.put("gone", b"x")

    response = httpx.delete(object_url(server, bucket, "gone"), timeout=20)

    assert response.status_code == 204
    assert remote_error(lambda: bucket.get("gone")).code == "NoSuchKey"


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("POST", "bucket-name/key", 405, "MethodNotAllowed"),
        ("GET", "bucket-name", 404, "NotFound"),
        ("GET", "bucket-name/%FF", 400, "InvalidParameterValue"),
    ],
)
def test_bad_requests_rejected(server: RunningServer, method: str, path: str, status: int, code: str) -> None:
    response = httpx.request(method, f"{server.endpoint}{OBJECTS}{path}", timeout=20)

    assert response.status_code == status
    assert response.json()["error"]["type"] == code


def test_disconnect_mid_upload_keeps_old_version(bucket: Bucket, server: RunningServer) -> None:
    bucket.put("draft", b"old version")
    address = urlsplit(server.endpoint)
    request = (
        f"PUT {OBJECTS}{bucket.name}/draft HTTP/1.1\r\nHost: {address.netloc}\r\nContent-Length: 100000\r\n\r\n"
    ).encode()
    # The store streams an upload into a temporary file there, and removes or renames it when the upload ends.
    uploads = server.data / "services" / "objects" / "tmp"

    with socket.create_connection((address.hostname, address.port), timeout=20) as connection:
        connection.sendall(request + b"partial" * 100)
        assert wait_for(lambda: any(uploads.glob("*.part"))), "the upload never started"
    assert wait_for(lambda: not any(uploads.glob("*.part"))), "the aborted upload never ended"

    assert bucket.get("draft") == b"old version"
    assert bucket.head("draft").size == len(b"old version")


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Poll `condition` until it is true or `timeout_s` passes; return its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


# Delete, copy and list


def test_delete_missing_key_succeeds(bucket: Bucket) -> None:
    bucket.put("kept", b"x")

    bucket.delete("never-stored")

    assert [entry.key for entry in bucket.list() if isinstance(entry, ObjectInfo)] == ["kept"]


@pytest.mark.parametrize("other_bucket", [False, True])
def test_copy_keeps_bytes_and_metadata(bucket: Bucket, client: Client, other_bucket: bool) -> None:
    target = create_bucket(f"copy-{uuid.uuid4().hex[:12]}", client) if other_bucket else bucket
    source = bucket.put("src", b"copied bytes", content_type="text/plain", metadata={"tag": "a"})

    copied = bucket.copy("src", "dst/copy", dst_bucket=target.name)

    assert target.get("dst/copy") == b"copied bytes"
    assert copied.bucket == target.name
    assert copied.etag == source.etag
    assert target.head("dst/copy").metadata == {"tag": "a"}
    assert target.head("dst/copy").content_type == "text/plain"


def test_list_with_delimiter_and_pages(bucket: Bucket) -> None:
    for key in ["a.txt", "b/1", "b/2", "c.txt", "d/x/y", "e.txt"]:
        bucket.put(key, b"x")

    grouped = list(bucket.list(delimiter="/", page_size=2))
    flat = [entry.key for entry in bucket.list(prefix="b/", page_size=1) if isinstance(entry, ObjectInfo)]

    assert [entry.prefix if isinstance(entry, CommonPrefix) else entry.key for entry in grouped] == [
        "a.txt", "b/", "c.txt", "d/", "e.txt"
    ]
    assert flat == ["b/1", "b/2"]


def test_list_json_operation_pages(bucket: Bucket, client: Client) -> None:
    for key in ["k1", "k2", "k3"]:
        bucket.put(key, b"x")

    first = client.call("objects", "list", bucket=bucket.name, max_keys=2)
    second = client.call("objects", "list", bucket=bucket.name, continuation_token=first["next_continuation_token"])

    assert [item["key"] for item in first["contents"]] == ["k1", "k2"]
    assert first["is_truncated"] is True
    assert first["key_count"] == 2
    assert [item["key"] for item in second["contents"]] == ["k3"]
    assert second["is_truncated"] is False


# Errors a user meets


@pytest.mark.parametrize(
    ("action", "code", "named"),
    [
        (lambda bucket: bucket.get("no-such-key"), "NoSuchKey", "no-such-key"),
        (lambda bucket: bucket.head("no-such-key"), "NoSuchKey", "no-such-key"),
        (lambda bucket: bucket.copy("no-such-key", "x"), "NoSuchKey", "no-such-key"),
        (lambda bucket: Bucket("no-such-bucket", bucket.client).put("k", b"x"), "NoSuchBucket", "no-such-bucket"),
        (lambda bucket: Bucket("no-such-bucket", bucket.client).put("k", io.BytesIO(b"x" * 300_000)),
         "NoSuchBucket", "no-such-bucket"),
        (lambda bucket: list(Bucket("no-such-bucket", bucket.client).list()), "NoSuchBucket", "no-such-bucket"),
        (lambda bucket: create_bucket("Bad_Name", bucket.client), "InvalidBucketName", "Bad_Name"),
        (lambda bucket: bucket.put("k" * 1025, b"x"), "KeyTooLongError", "1025 bytes"),
        (lambda bucket: bucket.put("k", b"x", metadata={"big": "v" * 2100}), "MetadataTooLarge", "2048"),
    ],
    ids=["get", "head", "copy", "put", "streamed-put", "list", "bucket-name", "key-length", "metadata-size"],
)
def test_errors_name_the_value(bucket: Bucket, action: Any, code: str, named: str) -> None:
    error = remote_error(lambda: action(bucket))

    assert error.code == code
    assert named in error.message


def test_copy_onto_itself_rejected(bucket: Bucket) -> None:
    bucket.put("self", b"x")

    error = remote_error(lambda: bucket.copy("self", "self"))

    assert error.code == "InvalidRequest"
    assert "self" in error.message


def test_open_missing_key_raises(bucket: Bucket) -> None:
    error = remote_error(lambda: bucket.open("absent"))

    assert error.code == "NoSuchKey"
    assert error.status == 404


# From inside a function


def test_function_writes_with_sdk(bucket: Bucket, server: RunningServer) -> None:
    request = {"bucket": bucket.name, "key": "from/function.txt", "text": "written inside"}

    response = httpx.post(f"{server.endpoint}/store", json=request, timeout=60)

    assert response.status_code == 200, response.text
    answer = json.loads(response.text)
    assert answer["stored"] == "written inside"
    assert bucket.get("from/function.txt") == b"written inside"
    assert bucket.head("from/function.txt").metadata == {"writer": "store"}
    assert bucket.head("from/function.txt").etag == answer["etag"]
