"""Conditional puts with `if_match`: S3 replaces only the ETag given, and fails with NoSuchKey when there is no object."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from squall.services.errors import InvalidParameter
from squall.services.objects import NoSuchBucket, NoSuchKey, ObjectStore, PreconditionFailed

WRONG_ETAG = '"0123456789abcdef0123456789abcdef"'


def read_all(store: ObjectStore, bucket: str, key: str) -> bytes:
    with store.get(bucket, key).body as body:
        return b"".join(body)


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda etag: etag, id="quoted"),
        pytest.param(lambda etag: etag.strip('"'), id="unquoted"),
        pytest.param(lambda etag: "W/" + etag, id="weak"),
        pytest.param(lambda etag: f"{WRONG_ETAG}, {etag}", id="listed-second"),
        pytest.param(lambda etag: "*", id="any"),
    ],
)
def test_put_if_match_replaces(store: ObjectStore, bucket: str, form: Callable[[str], str]) -> None:
    first = store.put(bucket, "k", b"first")

    second = store.put(bucket, "k", b"second", if_match=form(first.etag))

    assert second.etag != first.etag
    assert read_all(store, bucket, "k") == b"second"
    assert [event.etag for event in store.events()] == [first.etag, second.etag]


def test_put_if_match_other_etag(store: ObjectStore, bucket: str) -> None:
    store.put(bucket, "k", b"first")

    with pytest.raises(PreconditionFailed) as caught:
        store.put(bucket, "k", b"second", if_match=WRONG_ETAG)

    assert caught.value.status == 412
    assert WRONG_ETAG in caught.value.message
    assert "'k'" in caught.value.message
    assert read_all(store, bucket, "k") == b"first"
    assert len(store.events()) == 1


@pytest.mark.parametrize("if_match", [WRONG_ETAG, "*"])
def test_put_if_match_missing_key(store: ObjectStore, bucket: str, if_match: str) -> None:
    with pytest.raises(NoSuchKey) as caught:
        store.put(bucket, "absent", b"data", if_match=if_match)

    assert caught.value.status == 404
    assert "'absent'" in caught.value.message
    assert "without if_match" in caught.value.message
    with pytest.raises(NoSuchKey):
        store.head(bucket, "absent")
    assert store.events() == []


def test_put_if_match_deleted_key(store: ObjectStore, bucket: str) -> None:
    first = store.put(bucket, "k", b"first")
    store.delete(bucket, "k")

    with pytest.raises(NoSuchKey):
        store.put(bucket, "k", b"second", if_match=first.etag)


def test_put_if_match_missing_bucket(store: ObjectStore) -> None:
    with pytest.raises(NoSuchBucket):
        store.put("no-such-bucket", "k", b"data", if_match=WRONG_ETAG)


@pytest.mark.parametrize("if_match", ["", "  ", ",", '"a"\n"b"'])
def test_put_if_match_invalid(store: ObjectStore, bucket: str, if_match: str) -> None:
    store.put(bucket, "k", b"first")

    with pytest.raises(InvalidParameter) as caught:
        store.put(bucket, "k", b"second", if_match=if_match)

    assert "if_match" in caught.value.message
    assert read_all(store, bucket, "k") == b"first"


def test_put_if_match_checked_at_commit(store: ObjectStore, bucket: str) -> None:
    first = store.put(bucket, "k", b"first")

    def overwritten_midway() -> Iterator[bytes]:
        yield b"sec"
        # Another writer replaces the object while this upload streams.
        store.put(bucket, "k", b"other writer")
        yield b"ond"

    with pytest.raises(PreconditionFailed):
        store.put(bucket, "k", overwritten_midway(), if_match=first.etag)

    assert read_all(store, bucket, "k") == b"other writer"


def test_put_if_match_and_if_none_match(store: ObjectStore, bucket: str) -> None:
    first = store.put(bucket, "k", b"first")

    with pytest.raises(PreconditionFailed):
        store.put(bucket, "k", b"second", if_none_match=True, if_match=first.etag)

    assert read_all(store, bucket, "k") == b"first"
