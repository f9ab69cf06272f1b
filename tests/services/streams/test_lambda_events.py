"""The Kinesis event a stream trigger delivers, and how a handler's response is read."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import KinesisDataStreamModel

from squall.services.streams import StreamRecord, bisect, failed_sequence_number, kinesis_event, stream_arn

CONFORMANCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "conformance"
SAMPLE_EVENT = CONFORMANCE / "lambda-events" / "kinesisStreamEvent.json"
RECORDING = CONFORMANCE / "aws-recorded" / "lambda-test_lambda_integration_kinesis.snapshot.json"
RECORDED_TEST = (
    "tests/aws/services/lambda_/event_source_mapping/test_lambda_integration_kinesis.py::TestKinesisSource::"
)

SEQUENCES = [
    "49000000000001000000000000000000001700000000000001000000",
    "49000000000001000000000000000000001700000000000002000000",
    "49000000000001000000000000000000001700000000000003000000",
]


def make_batch() -> list[StreamRecord]:
    return [
        StreamRecord(
            sequence_number=sequence,
            approximate_arrival_timestamp=1_700_000_000.123 + index,
            data=f'{{"n": {index}}}'.encode(),
            partition_key=f"key-{index}",
            shard_id="shardId-000000000000",
        )
        for index, sequence in enumerate(SEQUENCES)
    ]


def shape(value: Any) -> Any:
    """Reduce JSON to its keys and value types; a recording's "<placeholder>" string matches any scalar."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value[:1]]
    if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
        return "placeholder"
    return type(value).__name__


def same_shape(built: Any, reference: Any) -> bool:
    """Check that a built value has the keys and value types of a `shape()` result."""
    if reference == "placeholder":
        return not isinstance(built, dict | list)
    if isinstance(reference, dict):
        return (
            isinstance(built, dict)
            and built.keys() == reference.keys()
            and all(same_shape(built[key], reference[key]) for key in reference)
        )
    if isinstance(reference, list):
        return isinstance(built, list) and all(same_shape(item, reference[0]) for item in built[:1])
    return bool(type(built).__name__ == reference)


def recorded_events() -> list[dict[str, Any]]:
    """Every Kinesis event in the recording that a function received."""
    snapshot = json.loads(RECORDING.read_text())
    events = []
    for test in snapshot.values():
        content = test["recorded-content"]
        for key in ("kinesis_events", "invocation_events"):
            for entry in content.get(key, []):
                event = entry.get("event", entry)
                if "Records" in event:
                    events.append(event)
    return events


# -- the event -------------------------------------------------------------------


def test_event_parses_with_powertools() -> None:
    arn = stream_arn("orders")

    parsed = KinesisDataStreamModel.model_validate(kinesis_event(make_batch(), arn))

    assert [record.kinesis.data for record in parsed.Records] == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
    assert [record.kinesis.sequenceNumber for record in parsed.Records] == SEQUENCES
    assert parsed.Records[0].eventSourceARN == arn
    assert parsed.Records[0].awsRegion == "us-east-1"


def test_event_values() -> None:
    record = make_batch()[0]

    event = kinesis_event([record], stream_arn("orders", "eu-west-1", "123456789012"), region="eu-west-1")
    entry = event["Records"][0]

    assert entry["eventID"] == f"shardId-000000000000:{record.sequence_number}"
    assert entry["eventName"] == "aws:kinesis:record"
    assert entry["eventSource"] == "aws:kinesis"
    assert entry["eventVersion"] == "1.0"
    assert entry["awsRegion"] == "eu-west-1"
    assert entry["eventSourceARN"] == "arn:aws:kinesis:eu-west-1:123456789012:stream/orders"
    assert entry["invokeIdentityArn"].startswith("arn:aws:iam::123456789012:role/")
    assert entry["kinesis"]["kinesisSchemaVersion"] == "1.0"
    assert entry["kinesis"]["partitionKey"] == "key-0"
    assert base64.b64decode(entry["kinesis"]["data"]) == record.data
    assert entry["kinesis"]["approximateArrivalTimestamp"] == pytest.approx(1_700_000_000.123)
    assert isinstance(entry["kinesis"]["approximateArrivalTimestamp"], float)


def test_event_identity_arn_given() -> None:
    role = "arn:aws:iam::000000000000:role/custom"

    event = kinesis_event(make_batch(), stream_arn("orders"), invoke_identity_arn=role)

    assert {entry["invokeIdentityArn"] for entry in event["Records"]} == {role}


def test_event_shape_matches_sample() -> None:
    sample = json.loads(SAMPLE_EVENT.read_text())

    event = kinesis_event(make_batch(), stream_arn("orders"))

    assert same_shape(event, shape(sample)), (shape(event), shape(sample))


def test_event_shape_matches_recordings() -> None:
    events = recorded_events()
    built = kinesis_event(make_batch(), stream_arn("orders"))

    assert len(events) >= 5
    for recorded in events:
        assert same_shape(built, shape(recorded)), (shape(built), shape(recorded))


def test_event_is_json() -> None:
    event = kinesis_event(make_batch(), stream_arn("orders"))

    assert json.loads(json.dumps(event)) == event


# -- reading the response --------------------------------------------------------

# Handler responses of LocalStack's recorded test cases, by test id, written
# as the JSON payload a handler's return value becomes.
SUCCESS_RESPONSES = {
    "empty_string_success": b'""',
    "empty_list_success": b"[]",
    "null_success": b"null",
    "empty_dict_success": b"{}",
    "empty_batch_item_failure_success": b'{"batchItemFailures": []}',
    "null_batch_item_failure_success": b'{"batchItemFailures": null}',
}
FAILURE_RESPONSES = {
    "item_identifier_not_present_failure": b'{"batchItemFailures": [{"itemIdentifier": 123}]}',
    "empty_string_item_identifier_failure": b'{"batchItemFailures": [{"itemIdentifier": ""}]}',
    "null_item_identifier_failure": b'{"batchItemFailures": [{"itemIdentifier": null}]}',
    "invalid_key_foo_failure": b'{"batchItemFailures": [{"foo": 123}]}',
    "invalid_key_foo_null_value_failure": b'{"batchItemFailures": [{"foo": null}]}',
}


@pytest.mark.parametrize("case", sorted(SUCCESS_RESPONSES))
def test_recorded_success_responses(case: str) -> None:
    recording = json.loads(RECORDING.read_text())
    recorded = recording[f"{RECORDED_TEST}test_kinesis_report_batch_item_success_scenarios[{case}]"]

    # AWS invoked once: the batch counted as processed.
    assert len(recorded["recorded-content"]["kinesis_events"]) == 1
    assert failed_sequence_number(SUCCESS_RESPONSES[case], make_batch()) is None


@pytest.mark.parametrize("case", sorted(FAILURE_RESPONSES))
def test_recorded_failure_responses(case: str) -> None:
    recording = json.loads(RECORDING.read_text())
    recorded = recording[f"{RECORDED_TEST}test_kinesis_report_batch_item_failure_scenarios[{case}]"]
    invocations = recorded["recorded-content"]["kinesis_events"]
    batch = make_batch()

    # AWS retried the same batch from its first record until retries ran out.
    assert len(invocations) > 1
    assert len({invocation["Records"][0]["eventID"] for invocation in invocations}) == 1
    assert failed_sequence_number(FAILURE_RESPONSES[case], batch) == batch[0].sequence_number


@pytest.mark.parametrize(
    "answer",
    [
        b"",
        b"  \n",
        b'{"other": 1}',
        b'"done"',
    ],
)
def test_other_success_responses(answer: bytes) -> None:
    assert failed_sequence_number(answer, make_batch()) is None


@pytest.mark.parametrize(
    "answer",
    [
        b"not json",
        b'{"batchItemFailures": "x"}',
        b'{"batchItemFailures": ["x"]}',
        b'{"batchItemFailures": [{"itemIdentifier": "49000000000001000000000000000000001700000000000009000000"}]}',
    ],
)
def test_other_whole_batch_failures(answer: bytes) -> None:
    batch = make_batch()

    assert failed_sequence_number(answer, batch) == batch[0].sequence_number


def test_lowest_failed_sequence_resumes() -> None:
    batch = make_batch()
    answer = json.dumps(
        {"batchItemFailures": [{"itemIdentifier": SEQUENCES[2]}, {"itemIdentifier": SEQUENCES[1]}]}
    ).encode()

    assert failed_sequence_number(answer, batch) == SEQUENCES[1]


def test_single_failed_item() -> None:
    answer = json.dumps({"batchItemFailures": [{"itemIdentifier": SEQUENCES[2]}]}).encode()

    assert failed_sequence_number(answer, make_batch()) == SEQUENCES[2]


def test_empty_batch_has_no_failure() -> None:
    assert failed_sequence_number(b'{"batchItemFailures": [{"itemIdentifier": "1"}]}', []) is None


# -- bisect ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "first_size", "second_size"),
    [(0, 0, 0), (1, 1, 0), (2, 1, 1), (5, 3, 2), (10, 5, 5)],
)
def test_bisect_sizes(size: int, first_size: int, second_size: int) -> None:
    batch = list(range(size))

    first, second = bisect(batch)

    assert len(first) == first_size
    assert len(second) == second_size
    assert list(first + second) == batch
