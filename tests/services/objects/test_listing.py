"""Listing with ListObjectsV2 semantics: order, prefixes, delimiters and paging."""

from __future__ import annotations

import pytest

from squall.services.errors import InvalidParameter
from squall.services.objects import ListResult, ObjectStore

TREE = [
    "a.txt",
    "photos/2023/jan.jpg",
    "photos/2023/feb.jpg",
    "photos/2024/mar.jpg",
    "photos/cover.jpg",
    "photos0",
    "videos/clip.mp4",
    "zebra",
]


def put_keys(store: ObjectStore, bucket: str, keys: list[str]) -> None:
    for key in keys:
        store.put(bucket, key, key.encode())


def entries(page: ListResult) -> list[str]:
    """Return the keys and common prefixes of a page as one list in UTF-8 order, the order S3 pages through them."""
    return sorted([info.key for info in page.contents] + list(page.common_prefixes), key=str.encode)


def collect(store: ObjectStore, bucket: str, max_keys: int, **options: str) -> list[list[str]]:
    pages: list[list[str]] = []
    token = None
    for _ in range(100):
        page = store.list(bucket, max_keys=max_keys, continuation_token=token, **options)
        pages.append(entries(page))
        assert page.key_count <= max_keys
        if not page.is_truncated:
            assert page.next_continuation_token is None
            return pages
        token = page.next_continuation_token
    raise AssertionError("listing did not finish in 100 pages")


def test_list_utf8_binary_order(store: ObjectStore, bucket: str) -> None:
    # Code point order differs from UTF-16 order for the emoji and from
    # case-insensitive order for "B".
    keys = ["b", "B", "a/", "a", "\uff5a", "\U0001f600", "é", "e\u0301", "~"]
    put_keys(store, bucket, keys)
    page = store.list(bucket)
    assert [info.key for info in page.contents] == sorted(keys, key=lambda k: k.encode("utf-8"))
    assert page.is_truncated is False


def test_list_prefix(store: ObjectStore, bucket: str) -> None:
    put_keys(store, bucket, TREE)
    page = store.list(bucket, prefix="photos/")
    assert [i.key for i in page.contents] == [
        "photos/2023/feb.jpg",
        "photos/2023/jan.jpg",
        "photos/2024/mar.jpg",
        "photos/cover.jpg",
    ]


def test_list_delimiter_common_prefixes(store: ObjectStore, bucket: str) -> None:
    put_keys(store, bucket, TREE)
    root = store.list(bucket, delimiter="/")
    assert [i.key for i in root.contents] == ["a.txt", "photos0", "zebra"]
    assert root.common_prefixes == ("photos/", "videos/")
    assert root.key_count == 5

    nested = store.list(bucket, prefix="photos/", delimiter="/")
    assert [i.key for i in nested.contents] == ["photos/cover.jpg"]
    assert nested.common_prefixes == ("photos/2023/", "photos/2024/")


@pytest.mark.parametrize("max_keys", [1, 2, 3, 4])
def test_list_paging_with_delimiter(store: ObjectStore, bucket: str, max_keys: int) -> None:
    put_keys(store, bucket, TREE)
    pages = collect(store, bucket, max_keys, delimiter="/")
    flat = [entry for page in pages for entry in page]
    assert flat == ["a.txt", "photos/", "photos0", "videos/", "zebra"]
    assert len(pages) == -(-5 // max_keys)


@pytest.mark.parametrize("max_keys", [1, 3, 7, 1000])
def test_list_paging_without_delimiter(store: ObjectStore, bucket: str, max_keys: int) -> None:
    keys = [f"k{i:03d}" for i in range(25)]
    put_keys(store, bucket, keys)
    pages = collect(store, bucket, max_keys)
    assert [entry for page in pages for entry in page] == keys


def test_list_multi_character_delimiter(store: ObjectStore, bucket: str) -> None:
    put_keys(store, bucket, ["x--1", "x--2", "x-3", "y"])
    page = store.list(bucket, delimiter="--")
    assert page.common_prefixes == ("x--",)
    assert [i.key for i in page.contents] == ["x-3", "y"]


def test_list_start_after(store: ObjectStore, bucket: str) -> None:
    put_keys(store, bucket, TREE)
    page = store.list(bucket, start_after="photos/2023/jan.jpg")
    assert [i.key for i in page.contents][:2] == ["photos/2024/mar.jpg", "photos/cover.jpg"]

    with_delimiter = store.list(bucket, delimiter="/", start_after="photos/2023/jan.jpg")
    assert entries(with_delimiter) == ["photos/", "photos0", "videos/", "zebra"]


def test_list_start_after_before_prefix(store: ObjectStore, bucket: str) -> None:
    put_keys(store, bucket, TREE)
    page = store.list(bucket, prefix="videos/", start_after="a")
    assert [i.key for i in page.contents] == ["videos/clip.mp4"]


def test_list_max_keys_zero_and_cap(store: ObjectStore, bucket: str) -> None:
    put_keys(store, bucket, TREE)
    empty = store.list(bucket, max_keys=0)
    assert empty.key_count == 0
    assert empty.is_truncated is False
    assert store.list(bucket, max_keys=5000).max_keys == 1000


def test_list_empty_bucket(store: ObjectStore, bucket: str) -> None:
    page = store.list(bucket, delimiter="/")
    assert page.key_count == 0
    assert page.is_truncated is False


@pytest.mark.parametrize(
    "options",
    [{"continuation_token": "not-a-token"}, {"continuation_token": "eyJ4IjogMX0"}, {"max_keys": -1}, {"prefix": None}],
)
def test_list_invalid_options(store: ObjectStore, bucket: str, options: dict[str, object]) -> None:
    with pytest.raises(InvalidParameter):
        store.list(bucket, **options)  # type: ignore[arg-type]
