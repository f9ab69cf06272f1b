"""The instance runtime's JSON and frame handling, checked against the standard library functions it replaces."""

from __future__ import annotations

import collections
import decimal
import json
import os
import sys
import uuid
from typing import Any

import pytest

from squall.dispatcher.dispatcher import new_request_id
from squall.dispatcher.instance import _FrameReader
from squall.runtime.bootstrap import _result_meta, decode_json, encode_result
from squall.runtime.protocol import Kind, encode, read_kept_output

DECODE_CASES = [
    b'{"a": 1, "b": [true, null, 2.5]}',
    b'  {"padded": "both sides"}\n',
    b'"text"',
    b"12",
    b"7",
    b'{"n": NaN, "big": 123456789012345678901234567890}',
    b'{"emoji": "\xf0\x9f\x8c\xa7", "escaped": "\\u00e9"}',
    b'"\xed\xa0\x80"',  # a lone surrogate, which json.loads lets through
    "\ufeff{\"bom\": \"utf-8\"}".encode("utf-8"),
    '{"wide": "utf-16"}'.encode("utf-16"),
    '{"wide": "utf-16-le"}'.encode("utf-16-le"),
    '{"wide": "utf-32"}'.encode("utf-32"),
    '{"wide": "utf-32-be"}'.encode("utf-32-be"),
]

INVALID_CASES = [
    b'{"a": 1} trailing',
    b'{"a": ',
    b"",
    b"\xff\xfe\xfd",
    b"{\x00",
    b'{"bad utf-8": "\xc3\x28"}',
]


@pytest.mark.parametrize("data", DECODE_CASES)
def test_decode_json_matches_json_loads(data: bytes) -> None:
    assert repr(decode_json(data)) == repr(json.loads(data))


@pytest.mark.parametrize("data", INVALID_CASES)
def test_decode_json_rejects_like_json_loads(data: bytes) -> None:
    with pytest.raises(ValueError) as expected:
        json.loads(data)
    with pytest.raises(ValueError) as actual:
        decode_json(data)
    assert type(actual.value) is type(expected.value)
    assert str(actual.value) == str(expected.value)


@pytest.mark.parametrize(
    "value",
    [
        {"statusCode": 200, "body": "ok"},
        [1, 2.5, None, True, "é"],
        {"amount": decimal.Decimal("12"), "rate": decimal.Decimal("0.25")},
        {1: "integer key"},
        float("nan"),
        "plain",
    ],
)
def test_encode_result_matches_json_dumps(value: Any) -> None:
    def default(item: Any) -> Any:
        if isinstance(item, decimal.Decimal):
            return int(item) if item == item.to_integral_value() else float(item)
        raise TypeError(f"Object of type {type(item).__name__} is not JSON serializable")

    expected = json.dumps(value, default=default, ensure_ascii=sys.version_info < (3, 12))
    assert encode_result(value) == expected.encode()


def test_encode_result_non_ascii_by_python_version() -> None:
    encoded = encode_result({"text": "h\u00e9llo \u2603"})

    if sys.version_info >= (3, 12):
        assert encoded == '{"text": "h\u00e9llo \u2603"}'.encode()
    else:
        assert encoded == b'{"text": "h\\u00e9llo \\u2603"}'


def test_encode_result_named_tuple_is_list() -> None:
    point = collections.namedtuple("Point", "x y")(1, 2)

    assert encode_result({"point": point}) == b'{"point": [1, 2]}'


@pytest.mark.parametrize("value", [{"body": b"raw"}, {decimal.Decimal("1.5"): 1}])
def test_encode_result_rejects_like_lambda(value: Any) -> None:
    with pytest.raises(TypeError):
        encode_result(value)


@pytest.mark.parametrize("value", [{"when": object()}, {1, 2}])
def test_encode_result_rejects_unknown_types(value: Any) -> None:
    with pytest.raises(TypeError):
        encode_result(value)


@pytest.mark.parametrize(
    ("error_type", "fatal", "expected"),
    [
        (None, False, {"max_rss_kb": 2048, "log_bytes": 17}),
        ("ValueError", False, {"error_type": "ValueError", "max_rss_kb": 2048, "log_bytes": 17}),
        ("Runtime.OutOfMemory", True, {"error_type": "Runtime.OutOfMemory", "fatal": True, "max_rss_kb": 2048, "log_bytes": 17}),
    ],
)
def test_result_meta_is_json(error_type: str | None, fatal: bool, expected: dict[str, Any]) -> None:
    assert json.loads(_result_meta(error_type, fatal, 2048, 17)) == expected


class _Recorder:
    """A fake Instance that records the frames a reader delivers."""

    def __init__(self) -> None:
        self.id = "recorder"
        self.frames: list[tuple[int, bytes, bytes]] = []
        self.killed = False

    def on_frame(self, kind: int, meta: bytes, body: bytes) -> None:
        self.frames.append((kind, meta, body))

    def kill(self) -> None:
        self.killed = True


FIRST = encode(Kind.RESULT, b'{"max_rss_kb":1}', b'{"statusCode": 200}')
SECOND = encode(Kind.RESULT, b'{"max_rss_kb":2}', b"")
STREAM = FIRST + SECOND


@pytest.mark.parametrize(
    "chunks",
    [
        [FIRST, SECOND],  # one read per frame
        [STREAM],  # both frames in one read
        [STREAM[:4], STREAM[4:30], STREAM[30:]],  # a header split across reads
        [FIRST[:-1], FIRST[-1:] + SECOND],  # a frame's last byte arrives with the next frame
        [bytes([byte]) for byte in STREAM],  # one byte at a time
    ],
)
def test_frame_reader_splits_any_chunking(chunks: list[bytes]) -> None:
    recorder = _Recorder()
    reader = _FrameReader(recorder)  # type: ignore[arg-type]

    for chunk in chunks:
        reader.data_received(chunk)

    assert recorder.frames == [
        (Kind.RESULT, b'{"max_rss_kb":1}', b'{"statusCode": 200}'),
        (Kind.RESULT, b'{"max_rss_kb":2}', b""),
    ]
    assert not recorder.killed


def test_new_request_id_is_uuid4() -> None:
    ids = [new_request_id() for _ in range(1000)]

    assert len(set(ids)) == len(ids)
    for request_id in ids:
        parsed = uuid.UUID(request_id)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == request_id


def test_kept_output_resumes_at_a_line_start() -> None:
    lines = b"".join(f"line {number:06d} ".encode() + b"x" * 80 + b"\n" for number in range(5000))
    fd = os.memfd_create("output")
    try:
        os.write(fd, lines)
        output = read_kept_output(fd, len(lines))
    finally:
        os.close(fd)

    start, note, end = output.partition(b" bytes of output cut here]\n")
    assert note
    assert start.startswith(b"line 000000 ")
    assert end.startswith(b"line ")
    assert end.endswith(b"line 004999 " + b"x" * 80 + b"\n")
