"""Range requests: parse_range against S3's rules, and ranged reads."""

from __future__ import annotations

import pytest

from squall.services.objects import ByteRange, InvalidRange, ObjectStore, parse_range


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-9", 100, ByteRange(0, 9)),
        ("bytes=10-", 100, ByteRange(10, 99)),
        ("bytes=-10", 100, ByteRange(90, 99)),
        ("bytes=50-500", 100, ByteRange(50, 99)),  # end past the object is cut
        ("bytes=-500", 100, ByteRange(0, 99)),  # suffix longer than the object
        ("bytes=99-99", 100, ByteRange(99, 99)),
        ("BYTES = 1 - 2", 100, ByteRange(1, 2)),
        # S3 ignores what it cannot use and serves the whole object.
        ("bytes=5-3", 100, None),
        ("bytes=0-1,5-6", 100, None),
        ("bytes=abc", 100, None),
        ("bytes=-", 100, None),
        ("items=0-9", 100, None),
        ("", 100, None),
    ],
)
def test_parse_range(header: str, size: int, expected: ByteRange | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(("header", "size"), [("bytes=100-", 100), ("bytes=100-200", 100), ("bytes=-0", 100), ("bytes=0-", 0), ("bytes=-5", 0)])
def test_parse_range_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(InvalidRange) as caught:
        parse_range(header, size)
    assert caught.value.code == "InvalidRange"
    assert caught.value.status == 416
    assert caught.value.size == size


def test_content_range_header() -> None:
    assert ByteRange(90, 99).content_range(100) == "bytes 90-99/100"


@pytest.mark.parametrize(
    ("byte_range", "expected"),
    [("bytes=2-4", b"234"), ("bytes=-3", b"789"), (ByteRange(8, 20), b"89"), ("bytes=4-2", b"0123456789")],
)
def test_get_range(store: ObjectStore, bucket: str, byte_range: str | ByteRange, expected: bytes) -> None:
    store.put(bucket, "digits", b"0123456789")
    result = store.get(bucket, "digits", byte_range)
    body = b"".join(result.body)
    assert body == expected
    assert result.content_length == len(expected)


def test_get_range_unsatisfiable(store: ObjectStore, bucket: str) -> None:
    store.put(bucket, "digits", b"0123456789")
    with pytest.raises(InvalidRange):
        store.get(bucket, "digits", "bytes=10-")


def test_reader_read_in_pieces(store: ObjectStore, bucket: str) -> None:
    store.put(bucket, "digits", b"0123456789")
    with store.get(bucket, "digits", "bytes=1-8").body as body:
        assert body.read(3) == b"123"
        assert body.read() == b"45678"
        assert body.read() == b""
