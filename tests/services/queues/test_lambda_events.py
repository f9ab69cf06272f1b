"""The SQS event for Lambda and the reading of a handler's partial batch response."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import SqsModel

from squall.services.queues import (
    DeadLetterPolicy,
    MessageAttribute,
    Queues,
    QueueSettings,
    ReceivedMessage,
    failed_message_ids,
    sqs_event,
)

from .fakes import FakeClock

CONFORMANCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "conformance"
RECORDED = CONFORMANCE / "aws-recorded" / "lambda-test_lambda_integration_sqs.snapshot.json"
RECORDED_PREFIX = "tests/aws/services/lambda_/event_source_mapping/test_lambda_integration_sqs.py::"
ARN = "arn:aws:sqs:us-east-1:000000000000:orders"

BOOK_ATTRIBUTES = {
    "Title": MessageAttribute("String", string_value="The Whistler"),
    "Author": MessageAttribute("String", string_value="John Grisham"),
    "WeeksOn": MessageAttribute("Number", string_value="6"),
}


def _recording(test_name: str) -> dict[str, Any]:
    snapshot = json.loads(RECORDED.read_text())
    return snapshot[RECORDED_PREFIX + test_name]["recorded-content"]


def _delivered_event(invocation: dict[str, Any]) -> dict[str, Any]:
    """Return the event a recorded handler forwarded to its destination queue."""
    body = invocation["Messages"][0]["Body"]
    return (json.loads(body) if isinstance(body, str) else body)["event"]


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value[:1]]
    return type(value).__name__


def _received(
    queues: Queues, attributes: dict[str, MessageAttribute] | None = None
) -> ReceivedMessage:
    queues.create_queue("orders")
    queues.send("orders", '{"message": 1}', attributes=attributes)
    return queues.receive("orders")[0]


def _received_fifo(queues: Queues) -> ReceivedMessage:
    queues.create_queue("orders.fifo")
    queues.send("orders.fifo", "body", group_id="1", dedup_id="dedup-1")
    return queues.receive("orders.fifo")[0]


def test_event_parses_with_powertools(queues: Queues) -> None:
    attributes = dict(BOOK_ATTRIBUTES, blob=MessageAttribute("Binary", binary_value=b"\x01\x02"))
    message = _received(queues, attributes)

    parsed = SqsModel.model_validate(sqs_event([message], ARN))

    [record] = parsed.Records
    assert record.messageId == message.message_id
    assert record.body == message.body
    assert record.eventSourceARN == ARN
    assert record.awsRegion == "us-east-1"
    assert record.messageAttributes["Title"].stringValue == "The Whistler"
    assert record.messageAttributes["blob"].binaryValue == "AQI="
    assert record.attributes.ApproximateReceiveCount == "1"


def test_fifo_event_parses_with_powertools(queues: Queues) -> None:
    message = _received_fifo(queues)

    parsed = SqsModel.model_validate(sqs_event([message], ARN + ".fifo", region="eu-west-1"))

    [record] = parsed.Records
    assert record.attributes.MessageGroupId == "1"
    assert record.attributes.MessageDeduplicationId == "dedup-1"
    assert record.attributes.SequenceNumber == message.attributes["SequenceNumber"]
    assert record.awsRegion == "eu-west-1"


def test_event_matches_sample_shape(queues: Queues) -> None:
    sample = json.loads((CONFORMANCE / "lambda-events" / "sqsEvent.json").read_text())
    sample_record = sample["Records"][1]
    record = sqs_event([_received(queues)], ARN)["Records"][0]

    # The sample predates md5OfMessageAttributes, which the recorded events
    # from AWS contain (null without attributes).
    assert set(record) == set(sample_record) | {"md5OfMessageAttributes"}
    assert record["md5OfMessageAttributes"] is None
    without_md5 = {key: value for key, value in record.items() if key != "md5OfMessageAttributes"}
    assert _shape(without_md5) == _shape(sample_record)


def test_event_matches_recorded_event_with_attributes(queues: Queues) -> None:
    recording = _recording("test_message_body_and_attributes_passed_correctly")
    recorded_event = _delivered_event(recording["first_attempt"])
    recorded_record = recorded_event["Records"][0]
    record = sqs_event([_received(queues, BOOK_ATTRIBUTES)], ARN)["Records"][0]

    assert _shape(record) == _shape(recorded_record)
    assert record["messageAttributes"] == recorded_record["messageAttributes"]
    assert record["md5OfMessageAttributes"] == recorded_record["md5OfMessageAttributes"]
    assert record["eventSource"] == recorded_record["eventSource"]


def test_event_matches_recorded_event_without_attributes(queues: Queues) -> None:
    recording = _recording("TestSQSEventSourceMapping::test_sqs_event_source_mapping")
    recorded_record = recording["events"][0]["Records"][0]
    record = sqs_event([_received(queues)], ARN)["Records"][0]

    # The recording parsed the JSON body for readability; AWS delivers a string.
    recorded_shape = dict(_shape(recorded_record), body="str")
    assert _shape(record) == recorded_shape
    assert list(record) == list(recorded_record)


def test_fifo_attributes_match_recorded_event(queues: Queues) -> None:
    recording = _recording("test_report_batch_item_failures")
    recorded_event = _delivered_event(recording["first_invocation"])
    recorded_attributes = recorded_event["Records"][0]["attributes"]
    record = sqs_event([_received_fifo(queues)], ARN + ".fifo")["Records"][0]

    assert set(record["attributes"]) == set(recorded_attributes)
    assert record["attributes"]["MessageGroupId"] == recorded_attributes["MessageGroupId"]
    assert (
        record["attributes"]["MessageDeduplicationId"]
        == recorded_attributes["MessageDeduplicationId"]
    )


def test_dead_letter_attributes_match_sample(queues: Queues, clock: FakeClock) -> None:
    sample = json.loads((CONFORMANCE / "lambda-events" / "sqsDlqTriggerEvent.json").read_text())
    queues.create_queue("dead")
    policy = DeadLetterPolicy(target="dead", max_receive_count=1)
    queues.create_queue("orders", QueueSettings(dead_letter=policy))
    queues.send("orders", "hello world")
    queues.receive("orders")
    clock.advance(30)
    queues.receive("orders")
    [moved] = queues.receive("dead")

    record = sqs_event([moved], "arn:aws:sqs:us-east-1:000000000000:dead")["Records"][0]

    sample_record = sample["Records"][0]
    assert _shape(record["attributes"]) == _shape(sample_record["attributes"])
    # As in the sample: one receive from the source queue, one from the dead-letter queue.
    assert record["attributes"]["ApproximateReceiveCount"] == "2"
    assert record["attributes"]["DeadLetterQueueSourceArn"] == queues.get_queue("orders").arn


INVALID_RESULT_TEST = "test_report_batch_item_failures_invalid_result_json_batch_fails"


def _left_on_queue(recording: dict[str, Any], next_key: str | None) -> set[str]:
    if next_key is None:
        return set()
    if next_key == "dlq_response":
        return {message["MessageId"] for message in recording[next_key]["Messages"]}
    return {record["messageId"] for record in _delivered_event(recording[next_key])["Records"]}


@pytest.mark.parametrize(
    ("test_name", "invocation", "next_key"),
    [
        ("test_report_batch_item_failures", "first_invocation", "second_invocation"),
        ("test_report_batch_item_failures", "second_invocation", "dlq_response"),
        (INVALID_RESULT_TEST, "first_invocation", "second_invocation"),
        (INVALID_RESULT_TEST, "second_invocation", "dlq_response"),
        ("test_report_batch_item_failures_empty_json_batch_succeeds", "first_invocation", None),
    ],
)
def test_failed_ids_match_recordings(test_name: str, invocation: str, next_key: str | None) -> None:
    recording = _recording(test_name)
    body = recording[invocation]["Messages"][0]["Body"]
    body = json.loads(body) if isinstance(body, str) else body
    batch_ids = [record["messageId"] for record in body["event"]["Records"]]
    answer = json.dumps(body["result"]).encode()

    assert failed_message_ids(answer, batch_ids) == _left_on_queue(recording, next_key)


BATCH = ["id-1", "id-2", "id-3"]


@pytest.mark.parametrize(
    "answer",
    [
        b"",
        b"null",
        b"{}",
        b'{"batchItemFailures": []}',
        b'{"batchItemFailures": null}',
        b'{"statusCode": 200}',
    ],
)
def test_answers_meaning_complete_success(answer: bytes) -> None:
    assert failed_message_ids(answer, BATCH) == set()


@pytest.mark.parametrize(
    "answer",
    [
        b"not json",
        b'{"batchItemFailures": [',
        b"\xff\xfe",
        b'{"batchItemFailures": [{"itemIdentifier": ""}]}',
        b'{"batchItemFailures": [{"itemIdentifier": null}]}',
        b'{"batchItemFailures": [{"itemidentifier": "id-1"}]}',
        b'{"batchItemFailures": [{"itemIdentifier": "unknown"}]}',
        b'{"batchItemFailures": [{"itemIdentifier": "id-1"}, {"itemIdentifier": "unknown"}]}',
        b'{"batchItemFailures": [{"itemIdentifier": 1}]}',
        b'{"batchItemFailures": ["id-1"]}',
        b'{"batchItemFailures": "id-1"}',
        b'"ok"',
        b"[]",
    ],
)
def test_answers_meaning_complete_failure(answer: bytes) -> None:
    assert failed_message_ids(answer, BATCH) == set(BATCH)


def test_answer_with_some_failures() -> None:
    answer = json.dumps(
        {"batchItemFailures": [{"itemIdentifier": "id-3"}, {"itemIdentifier": "id-1"}]}
    ).encode()

    assert failed_message_ids(answer, BATCH) == {"id-1", "id-3"}
