"""Buckets: S3's naming rules, creation, deletion and listing."""

from __future__ import annotations

import pytest

from squall.services.objects import (
    BucketNotEmpty,
    InvalidBucketName,
    NoSuchBucket,
    ObjectStore,
)
from tests.services.objects.conftest import FakeClock


@pytest.mark.parametrize(
    "name",
    ["abc", "my-bucket", "my.bucket.2024", "a" * 63, "0bucket9", "xn-single-dash", "bucket-s3alias-not-last"],
)
def test_create_bucket_valid_names(store: ObjectStore, name: str) -> None:
    assert store.create_bucket(name).name == name
    assert store.head_bucket(name).name == name


@pytest.mark.parametrize(
    "name",
    [
        "ab",  # too short
        "a" * 64,  # too long
        "My-Bucket",  # uppercase
        "my_bucket",  # underscore
        "-bucket",  # starts with a hyphen
        "bucket-",  # ends with a hyphen
        ".bucket",
        "bucket.",
        "my..bucket",
        "192.168.5.4",
        "xn--bucket",
        "sthree-bucket",
        "amzn-s3-demo-bucket",
        "bucket-s3alias",
        "bucket--ol-s3",
        "bucket.mrap",
        "bucket--x-s3",
        "bucket--table-s3",
        "bück",
        "",
    ],
)
def test_create_bucket_invalid_names(store: ObjectStore, name: str) -> None:
    with pytest.raises(InvalidBucketName) as caught:
        store.create_bucket(name)
    assert caught.value.code == "InvalidBucketName"
    assert repr(name) in caught.value.message
    assert store.list_buckets() == []


def test_create_bucket_twice_keeps_first(store: ObjectStore, clock: FakeClock) -> None:
    first = store.create_bucket("photos")
    clock.advance(60)
    second = store.create_bucket("photos")
    assert second == first
    assert [b.name for b in store.list_buckets()] == ["photos"]


def test_list_buckets_sorted(store: ObjectStore) -> None:
    for name in ["zeta", "alpha", "mid.dle"]:
        store.create_bucket(name)
    assert [b.name for b in store.list_buckets()] == ["alpha", "mid.dle", "zeta"]


def test_head_bucket_missing(store: ObjectStore) -> None:
    with pytest.raises(NoSuchBucket) as caught:
        store.head_bucket("nothing-here")
    assert caught.value.code == "NoSuchBucket"
    assert caught.value.status == 404


def test_delete_bucket_non_empty(store: ObjectStore, bucket: str) -> None:
    store.put(bucket, "cat.jpg", b"meow")
    with pytest.raises(BucketNotEmpty) as caught:
        store.delete_bucket(bucket)
    assert caught.value.code == "BucketNotEmpty"
    assert store.head(bucket, "cat.jpg").size == 4

    store.delete(bucket, "cat.jpg")
    store.delete_bucket(bucket)
    assert store.list_buckets() == []


def test_delete_bucket_missing(store: ObjectStore) -> None:
    with pytest.raises(NoSuchBucket):
        store.delete_bucket("nothing-here")


@pytest.mark.parametrize("operation", ["put", "get", "head", "delete", "list"])
def test_object_calls_on_missing_bucket(store: ObjectStore, operation: str) -> None:
    calls = {
        "put": lambda: store.put("nothing-here", "k", b"x"),
        "get": lambda: store.get("nothing-here", "k"),
        "head": lambda: store.head("nothing-here", "k"),
        "delete": lambda: store.delete("nothing-here", "k"),
        "list": lambda: store.list("nothing-here"),
    }
    with pytest.raises(NoSuchBucket) as caught:
        calls[operation]()
    assert caught.value.status == 404
