"""Objects: put, get, head, delete and copy, with S3's limits and error codes."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator

import pytest

from squall.services.errors import ConditionFailed, InvalidParameter, LimitExceeded
from squall.services.objects import (
    DEFAULT_CONTENT_TYPE,
    EntityTooLarge,
    InvalidRequest,
    KeyTooLong,
    MetadataTooLarge,
    NoSuchKey,
    ObjectStore,
    PreconditionFailed,
)
from tests.services.objects.conftest import TEST_MAX_OBJECT_SIZE, FakeClock


def read_all(store: ObjectStore, bucket: str, key: str) -> bytes:
    with store.get(bucket, key).body as body:
        return b"".join(body)


def test_put_get_roundtrip(store: ObjectStore, bucket: str, clock: FakeClock) -> None:
    data = bytes(range(256)) * 100
    info = store.put(bucket, "dir/data.bin", data, content_type="application/x-test", metadata={"Owner": "ana"})

    assert info.size == len(data)
    assert info.etag == f'"{hashlib.md5(data).hexdigest()}"'
    assert info.content_type == "application/x-test"
    assert info.metadata == {"owner": "ana"}
    assert info.last_modified == clock.now
    assert store.head(bucket, "dir/data.bin") == info

    result = store.get(bucket, "dir/data.bin")
    assert result.info == info
    assert result.byte_range is None
    assert result.content_length == len(data)
    assert b"".join(result.body) == data


def test_put_default_content_type(store: ObjectStore, bucket: str) -> None:
    assert store.put(bucket, "k", b"x").content_type == DEFAULT_CONTENT_TYPE == "binary/octet-stream"


def test_put_empty_object(store: ObjectStore, bucket: str) -> None:
    info = store.put(bucket, "empty", b"")
    assert info.size == 0
    assert info.etag == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert read_all(store, bucket, "empty") == b""


def test_put_streams_file_and_iterable(store: ObjectStore, bucket: str) -> None:
    data = b"0123456789" * 3000

    from_file = store.put(bucket, "from-file", io.BytesIO(data))
    from_chunks = store.put(bucket, "from-chunks", (data[i : i + 777] for i in range(0, len(data), 777)))

    assert from_file.etag == from_chunks.etag
    assert read_all(store, bucket, "from-file") == data
    assert read_all(store, bucket, "from-chunks") == data


def test_put_overwrite_serves_new_version(store: ObjectStore, bucket: str) -> None:
    store.put(bucket, "k", b"old", metadata={"v": "1"})
    new = store.put(bucket, "k", b"newer")
    assert store.head(bucket, "k") == new
    assert new.metadata == {}
    assert read_all(store, bucket, "k") == b"newer"


def test_reader_keeps_version_it_opened(store: ObjectStore, bucket: str) -> None:
    store.put(bucket, "k", b"first version")
    result = store.get(bucket, "k")
    store.put(bucket, "k", b"second")
    store.delete(bucket, "k")
    assert b"".join(result.body) == b"first version"


@pytest.mark.parametrize("key", ["a", "é" * 512, "x" * 1024, "with space/and+plus?&=", "emoji-\U0001f600"])
def test_put_valid_keys(store: ObjectStore, bucket: str, key: str) -> None:
    store.put(bucket, key, b"x")
    assert store.head(bucket, key).key == key


@pytest.mark.parametrize(
    ("key", "error"),
    [("", InvalidParameter), ("x" * 1025, KeyTooLong), ("é" * 513, KeyTooLong), ("bad\ud800", InvalidParameter)],
)
def test_put_invalid_keys(store: ObjectStore, bucket: str, key: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        store.put(bucket, key, b"x")
    assert store.list(bucket).key_count == 0


def test_metadata_limit_counts_utf8_bytes(store: ObjectStore, bucket: str) -> None:
    # "name" is 4 bytes; "é" is 2 bytes in UTF-8, so 1022 of them make exactly 2048.
    store.put(bucket, "at-limit", b"x", metadata={"name": "é" * 1022})
    with pytest.raises(MetadataTooLarge) as caught:
        store.put(bucket, "over-limit", b"x", metadata={"name": "é" * 1022 + "a"})
    assert isinstance(caught.value, LimitExceeded)
    assert "2049" in caught.value.message
    with pytest.raises(NoSuchKey):
        store.head(bucket, "over-limit")


@pytest.mark.parametrize(
    "metadata",
    [{"bad name": "v"}, {"name": "line\nbreak"}, {"name": 3}, {"Dup": "a", "dup": "b"}, {"": "v"}],
)
def test_metadata_invalid(store: ObjectStore, bucket: str, metadata: dict[str, object]) -> None:
    with pytest.raises(InvalidParameter):
        store.put(bucket, "k", b"x", metadata=metadata)  # type: ignore[arg-type]


@pytest.mark.parametrize("content_type", ["", "text/plain\r\nX-Injected: 1"])
def test_content_type_invalid(store: ObjectStore, bucket: str, content_type: str) -> None:
    with pytest.raises(InvalidParameter):
        store.put(bucket, "k", b"x", content_type=content_type)


@pytest.mark.parametrize("data", ["text is not bytes", 42, [b"ok", "not bytes"]])
def test_put_invalid_data(store: ObjectStore, bucket: str, data: object) -> None:
    with pytest.raises(InvalidParameter):
        store.put(bucket, "k", data)  # type: ignore[arg-type]
    with pytest.raises(NoSuchKey):
        store.head(bucket, "k")


def test_put_if_none_match(store: ObjectStore, bucket: str) -> None:
    store.put(bucket, "k", b"first", if_none_match=True)
    with pytest.raises(PreconditionFailed) as caught:
        store.put(bucket, "k", b"second", if_none_match=True)
    assert isinstance(caught.value, ConditionFailed)
    assert caught.value.status == 412
    assert read_all(store, bucket, "k") == b"first"


def test_put_over_max_size_stops_streaming(store: ObjectStore, bucket: str) -> None:
    store.put(bucket, "k", b"previous")
    pulled = 0

    def endless() -> Iterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield b"\0" * 1000

    with pytest.raises(EntityTooLarge) as caught:
        store.put(bucket, "k", endless())
    assert isinstance(caught.value, LimitExceeded)
    assert str(TEST_MAX_OBJECT_SIZE) in caught.value.message
    assert pulled == TEST_MAX_OBJECT_SIZE // 1000 + 1
    assert read_all(store, bucket, "k") == b"previous"


def test_put_at_max_size_accepted(store: ObjectStore, bucket: str) -> None:
    assert store.put(bucket, "k", b"a" * TEST_MAX_OBJECT_SIZE).size == TEST_MAX_OBJECT_SIZE


def test_put_source_failure_keeps_previous(store: ObjectStore, bucket: str) -> None:
    store.put(bucket, "k", b"previous")

    def broken() -> Iterator[bytes]:
        yield b"partial data"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store.put(bucket, "k", broken())
    assert read_all(store, bucket, "k") == b"previous"
    assert [e.name.value for e in store.events()] == ["ObjectCreated:Put"]


def test_get_missing_key(store: ObjectStore, bucket: str) -> None:
    with pytest.raises(NoSuchKey) as caught:
        store.get(bucket, "nope")
    assert caught.value.code == "NoSuchKey"
    assert caught.value.status == 404
    assert "'nope'" in caught.value.message


def test_delete_removes_and_missing_succeeds(store: ObjectStore, bucket: str) -> None:
    store.put(bucket, "k", b"x")
    store.delete(bucket, "k")
    with pytest.raises(NoSuchKey):
        store.head(bucket, "k")
    store.delete(bucket, "never-existed")


def test_copy_keeps_metadata(store: ObjectStore, bucket: str, clock: FakeClock) -> None:
    source = store.put(bucket, "src", b"payload", content_type="text/plain", metadata={"a": "1"})
    store.create_bucket("backup")
    clock.advance(5)

    copied = store.copy(bucket, "src", "backup", "dst")

    assert (copied.bucket, copied.key) == ("backup", "dst")
    assert copied.etag == source.etag
    assert copied.content_type == "text/plain"
    assert copied.metadata == {"a": "1"}
    assert copied.last_modified == source.last_modified + 5
    assert read_all(store, "backup", "dst") == b"payload"


def test_copy_replaces_metadata(store: ObjectStore, bucket: str) -> None:
    store.put(bucket, "src", b"payload", metadata={"a": "1"})
    copied = store.copy(bucket, "src", bucket, "dst", metadata={"b": "2"})
    assert copied.metadata == {"b": "2"}
    assert store.head(bucket, "src").metadata == {"a": "1"}


def test_copy_survives_source_delete(store: ObjectStore, bucket: str) -> None:
    store.put(bucket, "src", b"payload")
    store.copy(bucket, "src", bucket, "dst")
    store.delete(bucket, "src")
    assert read_all(store, bucket, "dst") == b"payload"


def test_copy_onto_itself(store: ObjectStore, bucket: str) -> None:
    store.put(bucket, "k", b"payload", metadata={"a": "1"})
    with pytest.raises(InvalidRequest) as caught:
        store.copy(bucket, "k", bucket, "k")
    assert caught.value.code == "InvalidRequest"

    replaced = store.copy(bucket, "k", bucket, "k", metadata={"a": "2"})
    assert replaced.metadata == {"a": "2"}
    assert read_all(store, bucket, "k") == b"payload"


def test_copy_missing_source(store: ObjectStore, bucket: str) -> None:
    with pytest.raises(NoSuchKey):
        store.copy(bucket, "nope", bucket, "dst")
