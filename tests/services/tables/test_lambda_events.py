"""The DynamoDB Streams event built from change records, checked against AWS's shapes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel

from squall.services.tables.lambda_events import dynamodb_stream_event, sequence_number, table_arn
from squall.services.tables.model import TableStore

CONFORMANCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "conformance"
SAMPLE = CONFORMANCE / "lambda-events" / "dynamoStreamEvent.json"
RECORDED = CONFORMANCE / "aws-recorded" / "lambda-test_lambda_integration_dynamodbstreams.snapshot.json"


def _event(store: TableStore, table: str) -> dict[str, Any]:
    info = store.describe_table(table)
    return dynamodb_stream_event(store.changes(table), table_arn(table), stream_label=info.stream_label)


def _sample_event(store: TableStore) -> dict[str, Any]:
    """Replay the writes behind the sample event: an INSERT, then a MODIFY."""
    store.create_table("ExampleTable", partition_key=("Id", "N"))
    store.put("ExampleTable", {"Id": 101, "Message": "New item!"})
    store.put("ExampleTable", {"Id": 101, "Message": "This item has changed"})
    return _event(store, "ExampleTable")


def _shape(value: Any, *, with_types: bool) -> Any:
    """The nested key sets of a JSON value, with the scalar types when asked."""
    if isinstance(value, dict):
        return {key: _shape(element, with_types=with_types) for key, element in value.items()}
    if isinstance(value, list):
        return [_shape(element, with_types=with_types) for element in value]
    return type(value).__name__ if with_types else "scalar"


def test_event_parses_with_powertools(store: TableStore) -> None:
    event = _sample_event(store)

    parsed = DynamoDBStreamModel.model_validate(event)

    insert, modify = parsed.Records
    assert insert.eventName == "INSERT"
    assert insert.dynamodb.Keys == {"Id": Decimal(101)}
    assert insert.dynamodb.NewImage == {"Id": Decimal(101), "Message": "New item!"}
    assert insert.dynamodb.OldImage is None
    assert modify.dynamodb.OldImage == {"Id": Decimal(101), "Message": "New item!"}
    assert int(insert.dynamodb.SequenceNumber) < int(modify.dynamodb.SequenceNumber)


def test_event_matches_sample_shape(store: TableStore) -> None:
    sample = json.loads(SAMPLE.read_text())

    event = _sample_event(store)

    for ours, theirs in zip(event["Records"], sample["Records"], strict=True):
        assert ours["eventName"] == theirs["eventName"]
        # The sample's MODIFY lacks ApproximateCreationDateTime, which its
        # INSERT and every recorded record carry; compare the rest.
        theirs["dynamodb"].setdefault("ApproximateCreationDateTime", 0.0)
        assert _shape(ours, with_types=True) == _shape(theirs, with_types=True)


def test_event_sizes_match_sample(store: TableStore) -> None:
    sample = json.loads(SAMPLE.read_text())

    event = _sample_event(store)

    assert [record["dynamodb"]["SizeBytes"] for record in event["Records"]] == [
        record["dynamodb"]["SizeBytes"] for record in sample["Records"]
    ]


def _recorded_records() -> Iterator[dict[str, Any]]:
    def walk(value: Any) -> Iterator[dict[str, Any]]:
        if isinstance(value, dict):
            if "dynamodb" in value and "eventName" in value:
                yield value
            for element in value.values():
                yield from walk(element)
        elif isinstance(value, list):
            for element in value:
                yield from walk(element)

    yield from walk(json.loads(RECORDED.read_text()))


def _recorded(event_name: str, size_bytes: int) -> dict[str, Any]:
    for record in _recorded_records():
        if record["eventName"] == event_name and record["dynamodb"]["SizeBytes"] == size_bytes:
            return record
    raise LookupError(f"no recorded {event_name} record of {size_bytes} bytes")


def _replay_binary_insert(store: TableStore) -> dict[str, Any]:
    store.create_table("recorded", partition_key=("my_partition_key", "S"))
    store.put("recorded", {"my_partition_key": "hello world", "binary_key": b"foobar"})
    return _event(store, "recorded")["Records"][-1]


def _replay_insert(store: TableStore) -> dict[str, Any]:
    store.create_table("recorded", partition_key=("id", "S"))
    store.put("recorded", {"id": "id_value", "id2": "id2_value"})
    # The recording's second, identical put delivered nothing.
    store.put("recorded", {"id": "id_value", "id2": "id2_value"})
    records = _event(store, "recorded")["Records"]
    assert len(records) == 1
    return records[-1]


def _replay_modify(store: TableStore) -> dict[str, Any]:
    store.create_table("recorded", partition_key=("id", "S"))
    store.put("recorded", {"id": "id_value"})
    store.put("recorded", {"id": "id_value", "id2": "id2_new_value"})
    return _event(store, "recorded")["Records"][-1]


@pytest.mark.parametrize(
    ("replay", "event_name", "size_bytes"),
    [(_replay_binary_insert, "INSERT", 70), (_replay_insert, "INSERT", 32), (_replay_modify, "MODIFY", 46)],
)
def test_event_matches_recording(store: TableStore, replay, event_name: str, size_bytes: int) -> None:
    recorded = _recorded(event_name, size_bytes)

    ours = replay(store)

    # The recording came from a NEW_IMAGE stream in one case; Squall's stream
    # always carries both images, so only the view type may differ.
    assert _shape(ours, with_types=False) == _shape(recorded, with_types=False)
    assert ours["dynamodb"]["SizeBytes"] == size_bytes
    assert ours["dynamodb"]["Keys"] == recorded["dynamodb"]["Keys"]
    assert ours["dynamodb"]["NewImage"] == recorded["dynamodb"]["NewImage"]
    assert ours["eventVersion"] == recorded["eventVersion"]
    assert ours["eventSource"] == recorded["eventSource"]


def test_source_arn_format(store: TableStore, clock) -> None:
    clock.now = 1_700_000_000.5
    store.create_table("orders", partition_key=("id", "S"))
    store.put("orders", {"id": "a"})
    info = store.describe_table("orders")

    event = dynamodb_stream_event(store.changes("orders"), table_arn("orders", "eu-west-1", "123456789012"), "eu-west-1", stream_label=info.stream_label)

    record = event["Records"][0]
    assert record["eventSourceARN"] == "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2023-11-14T22:13:20.500"
    assert record["awsRegion"] == "eu-west-1"
    recorded_arn = _recorded("INSERT", 32)["eventSourceARN"]
    # The recording hides partition, region, table and label behind placeholders.
    assert re.fullmatch(r"arn:<partition>:dynamodb:<region>:\d{12}:table/<[^>]+>/stream/<[^>]+>", recorded_arn)


def test_record_fields(store: TableStore, clock) -> None:
    clock.now = 1_700_000_123.9
    store.create_table("orders", partition_key=("id", "S"))
    store.put("orders", {"id": "a"})

    record = _event(store, "orders")["Records"][0]
    again = _event(store, "orders")["Records"][0]

    assert record["dynamodb"]["ApproximateCreationDateTime"] == 1_700_000_123.0
    assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert record["dynamodb"]["SequenceNumber"] == sequence_number(store.changes("orders")[0].seq)
    assert record["dynamodb"]["SequenceNumber"].isdigit()
    assert re.fullmatch(r"[0-9a-f]{32}", record["eventID"])
    assert again["eventID"] == record["eventID"]
    assert "userIdentity" not in record


def test_ttl_removal_record(store: TableStore, clock) -> None:
    store.create_table("sessions", partition_key=("id", "S"), ttl_attribute="expires")
    store.put("sessions", {"id": "s1", "expires": int(clock.now) - 1})
    store.expire()

    event = _event(store, "sessions")

    removal = event["Records"][-1]
    assert removal["eventName"] == "REMOVE"
    assert removal["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert "NewImage" not in removal["dynamodb"]
    assert removal["dynamodb"]["OldImage"] == {"id": {"S": "s1"}, "expires": {"N": str(int(clock.now) - 1)}}
    parsed = DynamoDBStreamModel.model_validate(event)
    assert parsed.Records[-1].userIdentity is not None
