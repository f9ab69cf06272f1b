"""Conditional PUTs on a real server: the If-Match header and `Bucket.put(if_match=, if_none_match=)`."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import httpx
import pytest

from squall.sdk.client import Client, RemoteError
from squall.sdk.objects import Bucket, create_bucket
from tests.conftest import RunningServer, start_server

OBJECTS = "/_squall/api/objects/"
WRONG_ETAG = '"0123456789abcdef0123456789abcdef"'

# A server needs at least one function; these tests only use its object routes.
MANIFEST = """\
service: conditional-puts
functions:
  idle:
    handler: handlers.idle
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("app")
    (folder / "squall.yml").write_text(MANIFEST)
    (folder / "handlers.py").write_text("def idle(event, context):\n    return None\n")
    running = start_server(folder, tmp_path_factory.mktemp("data"))
    yield running
    running.stop()


@pytest.fixture
def bucket(server: RunningServer) -> Bucket:
    return create_bucket(f"cond-{uuid.uuid4().hex[:12]}", Client(server.endpoint))


def object_url(server: RunningServer, bucket: Bucket, key: str) -> str:
    return f"{server.endpoint}{OBJECTS}{bucket.name}/{key}"


def test_raw_put_if_match_other_etag(bucket: Bucket, server: RunningServer) -> None:
    bucket.put("doc", b"first")

    response = httpx.put(object_url(server, bucket, "doc"), content=b"second", headers={"If-Match": WRONG_ETAG}, timeout=20)

    assert response.status_code == 412
    assert response.json()["error"]["type"] == "PreconditionFailed"
    assert bucket.get("doc") == b"first"


def test_raw_put_if_match_same_etag(bucket: Bucket, server: RunningServer) -> None:
    first = bucket.put("doc", b"first")

    response = httpx.put(object_url(server, bucket, "doc"), content=b"second", headers={"If-Match": first.etag}, timeout=20)

    assert response.status_code == 200
    assert response.headers["etag"] != first.etag
    assert bucket.get("doc") == b"second"


def test_raw_put_if_match_missing_key(bucket: Bucket, server: RunningServer) -> None:
    response = httpx.put(object_url(server, bucket, "absent"), content=b"data", headers={"If-Match": WRONG_ETAG}, timeout=20)

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "NoSuchKey"
    assert [item.key for item in bucket.list()] == []


def test_sdk_put_if_match(bucket: Bucket) -> None:
    first = bucket.put("config.json", "{}")

    second = bucket.put("config.json", '{"a": 1}', if_match=first.etag)
    with pytest.raises(RemoteError) as stale:
        bucket.put("config.json", '{"b": 2}', if_match=first.etag)

    assert second.etag != first.etag
    assert stale.value.code == "PreconditionFailed"
    assert stale.value.status == 412
    assert bucket.get("config.json") == b'{"a": 1}'


def test_sdk_put_if_match_streamed(bucket: Bucket) -> None:
    first = bucket.put("log", b"one")

    with pytest.raises(RemoteError) as stale:
        bucket.put("log", io.BytesIO(b"two"), if_match=WRONG_ETAG)
    replaced = bucket.put("log", io.BytesIO(b"three"), if_match=first.etag)

    assert stale.value.code == "PreconditionFailed"
    assert replaced.size == 5
    assert bucket.get("log") == b"three"


def test_sdk_put_if_match_missing_key(bucket: Bucket) -> None:
    with pytest.raises(RemoteError) as missing:
        bucket.put("absent", b"data", if_match=WRONG_ETAG)

    assert missing.value.code == "NoSuchKey"
    assert missing.value.status == 404


def test_sdk_put_if_none_match(bucket: Bucket) -> None:
    bucket.put("once", b"first", if_none_match=True)

    with pytest.raises(RemoteError) as exists:
        bucket.put("once", b"second", if_none_match=True)

    assert exists.value.code == "PreconditionFailed"
    assert exists.value.status == 412
    assert bucket.get("once") == b"first"


@pytest.mark.parametrize("if_match", ["", "   "])
def test_sdk_put_if_match_empty(bucket: Bucket, if_match: str) -> None:
    with pytest.raises(ValueError, match="if_match"):
        bucket.put("doc", b"data", if_match=if_match)
