"""The S3 notification event Lambda receives, and trigger filters."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import S3Model

from squall.services.errors import InvalidParameter
from squall.services.objects import EventName, ObjectEvent, ObjectStore, encode_key, matches, s3_event
from tests.services.objects.conftest import LAMBDA_EVENTS

CREATED = ObjectEvent(
    seq=42,
    bucket="photos",
    key="holiday 2024/beach.jpg",
    name=EventName.PUT,
    size=1305107,
    etag='"b21b84d653bb07b05b1e6b33684dc11b"',
    time=1567539447.192,
)
REMOVED = ObjectEvent(
    seq=43, bucket="photos", key="holiday 2024/beach.jpg", name=EventName.DELETE, size=None, etag=None, time=1567539448.0
)


def load_sample(name: str) -> dict[str, Any]:
    return json.loads((LAMBDA_EVENTS / name).read_text())


def shape(value: Any) -> Any:
    """Reduce a JSON value to its keys and value types, recursively."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


@pytest.mark.parametrize(("record", "sample"), [(CREATED, "s3Event.json"), (REMOVED, "s3EventDeleteObject.json")])
def test_s3_event_shape_matches_sample(record: ObjectEvent, sample: str) -> None:
    assert shape(s3_event(record)) == shape(load_sample(sample))


@pytest.mark.parametrize("record", [CREATED, REMOVED])
def test_s3_event_parses_with_powertools(record: ObjectEvent) -> None:
    parsed = S3Model.model_validate(s3_event(record, region="eu-west-1"))
    (parsed_record,) = parsed.Records
    assert parsed_record.eventName == record.name.value
    assert parsed_record.awsRegion == "eu-west-1"
    assert parsed_record.s3.bucket.name == "photos"
    assert parsed_record.s3.bucket.arn == "arn:aws:s3:::photos"
    assert parsed_record.s3.object.sequencer == record.sequencer


def test_s3_event_values() -> None:
    (record,) = s3_event(CREATED)["Records"]
    assert record["eventTime"] == "2019-09-03T19:37:27.192Z"
    assert record["eventSource"] == "aws:s3"
    assert record["eventVersion"] == "2.1"
    assert record["awsRegion"] == "us-east-1"
    assert record["s3"]["object"] == {
        "key": "holiday+2024/beach.jpg",
        "size": 1305107,
        "eTag": "b21b84d653bb07b05b1e6b33684dc11b",
        "sequencer": "00000000000000002A",
    }


def test_s3_event_removed_has_no_size() -> None:
    (record,) = s3_event(REMOVED)["Records"]
    assert set(record["s3"]["object"]) == {"key", "sequencer"}


def test_s3_event_from_store(store: ObjectStore, bucket: str) -> None:
    info = store.put(bucket, "a b.txt", b"hello")
    (event,) = store.events()
    (record,) = s3_event(event)["Records"]
    assert urllib.parse.unquote_plus(record["s3"]["object"]["key"]) == "a b.txt"
    assert f'"{record["s3"]["object"]["eTag"]}"' == info.etag
    assert record["s3"]["object"]["size"] == 5


def test_encode_key_sample_decodes() -> None:
    sample = load_sample("s3EventDecodedKey.json")["Records"][0]["s3"]["object"]
    assert encode_key(sample["urlDecodedKey"]) == "Happy+Face.jpg"
    assert urllib.parse.unquote_plus(encode_key(sample["urlDecodedKey"])) == sample["urlDecodedKey"]
    assert urllib.parse.unquote_plus(sample["key"]) == sample["urlDecodedKey"]


@pytest.mark.parametrize(
    "key",
    ["plain.txt", "dir/sub/file.txt", "a+b c", "100%", "date=2024-01-01/x", "é\U0001f600", "q?x&y#z"],
)
def test_encode_key_roundtrip(key: str) -> None:
    encoded = encode_key(key)
    assert " " not in encoded
    assert urllib.parse.unquote_plus(encoded) == key


@pytest.mark.parametrize(
    ("kinds", "prefix", "suffix", "record", "expected"),
    [
        (set(), "", "", CREATED, True),
        ({"created"}, "", "", CREATED, True),
        ({"created"}, "", "", REMOVED, False),
        ({"s3:ObjectCreated:*"}, "", "", CREATED, True),
        ({"ObjectRemoved:*"}, "", "", REMOVED, True),
        ({"s3:ObjectCreated:Copy"}, "", "", CREATED, False),
        ({"s3:ObjectCreated:Put", "removed"}, "", "", REMOVED, True),
        ({"created"}, "holiday 2024/", ".jpg", CREATED, True),
        ({"created"}, "holiday+2024/", "", CREATED, False),
        ({"created"}, "other/", "", CREATED, False),
        ({"created"}, "", ".png", CREATED, False),
    ],
)
def test_matches(kinds: set[str], prefix: str, suffix: str, record: ObjectEvent, expected: bool) -> None:
    assert matches(record, kinds, prefix, suffix) is expected


@pytest.mark.parametrize("kinds", [{"ObjectCreated"}, {"s3:ObjectRestore:*"}, {"CREATED"}, "created"])
def test_matches_invalid_kind(kinds: Any) -> None:
    with pytest.raises(InvalidParameter):
        matches(CREATED, kinds, "", "")
