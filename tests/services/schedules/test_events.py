"""The Scheduled Event a function receives: its fields, and its shape against AWS's samples."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from squall.services.errors import InvalidParameter
from squall.services.schedules import UTC, scheduled_event

CONFORMANCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "conformance"
RULE_ARN = "arn:aws:events:us-east-1:000000000000:rule/nightly"
FIRE_TIME = datetime(2024, 1, 4, 2, 0, tzinfo=UTC)


def shape(value: Any) -> Any:
    """Return the keys and value types of a JSON value, recursively, without its values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def recorded_scheduled_events() -> list[dict[str, Any]]:
    """Return the Scheduled Event bodies that EventBridge delivered to SQS in the recording."""
    snapshot = json.loads((CONFORMANCE / "aws-recorded" / "events-schedule.snapshot.json").read_text())
    bodies = []
    for entry in snapshot.values():
        for messages in entry["recorded-content"].values():
            if not isinstance(messages, list):
                continue
            for message in messages:
                if message["Body"].get("detail-type") == "Scheduled Event":
                    bodies.append(message["Body"])
    return bodies


RECORDED = recorded_scheduled_events()


def test_event_fields() -> None:
    event = scheduled_event(RULE_ARN, FIRE_TIME, region="eu-west-1", account="123456789012")

    assert event["version"] == "0"
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["account"] == "123456789012"
    assert event["region"] == "eu-west-1"
    assert event["time"] == "2024-01-04T02:00:00Z"
    assert event["resources"] == [RULE_ARN]
    assert event["detail"] == {}
    assert uuid.UUID(event["id"])


def test_event_defaults() -> None:
    event = scheduled_event(RULE_ARN, FIRE_TIME)

    assert event["region"] == "us-east-1"
    assert event["account"] == "000000000000"


def test_time_written_in_utc() -> None:
    fire_time = datetime(2024, 7, 1, 9, 30, 45, 123_456, tzinfo=ZoneInfo("Europe/Paris"))

    assert scheduled_event(RULE_ARN, fire_time)["time"] == "2024-07-01T07:30:45Z"


def test_id_same_for_same_tick() -> None:
    first = scheduled_event(RULE_ARN, FIRE_TIME)["id"]

    assert scheduled_event(RULE_ARN, FIRE_TIME)["id"] == first
    assert scheduled_event(RULE_ARN, datetime(2024, 1, 5, 2, 0, tzinfo=UTC))["id"] != first
    assert scheduled_event(RULE_ARN + "-other", FIRE_TIME)["id"] != first


def test_parses_with_powertools_model() -> None:
    model = EventBridgeModel.model_validate(scheduled_event(RULE_ARN, FIRE_TIME))

    assert model.detail_type == "Scheduled Event"
    assert model.source == "aws.events"
    assert model.time == FIRE_TIME
    assert model.resources == [RULE_ARN]
    assert model.detail == {}


def test_shape_matches_recorded_delivery() -> None:
    assert RECORDED, "no Scheduled Event found in the recording"
    event = scheduled_event(RULE_ARN, FIRE_TIME)

    for body in RECORDED:
        assert shape(event) == shape(body)


def test_shape_matches_lambda_sample() -> None:
    sample = json.loads((CONFORMANCE / "lambda-events" / "eventBridgeEvent.json").read_text())
    # `replay-name` appears only on events replayed from an archive, and a
    # sample's `detail` contains its own source's fields; a Scheduled Event's is empty.
    sample.pop("replay-name")
    event = scheduled_event(RULE_ARN, FIRE_TIME)

    assert shape({**event, "detail": None}) == shape({**sample, "detail": None})
    assert isinstance(sample["detail"], dict)


@pytest.mark.parametrize(
    "rule_arn",
    ["nightly", "arn:aws:events:us-east-1:0000:rule/nightly", "arn:aws:sqs:us-east-1:000000000000:orders"],
)
def test_invalid_rule_arn_rejected(rule_arn: str) -> None:
    with pytest.raises(InvalidParameter, match="rule ARN"):
        scheduled_event(rule_arn, FIRE_TIME)


def test_naive_fire_time_rejected() -> None:
    with pytest.raises(ValueError, match="fire_time"):
        scheduled_event(RULE_ARN, datetime(2024, 1, 4, 2, 0))


SCHEDULE_ARN = "arn:aws:scheduler:eu-west-1:123456789012:schedule/default/nightly"


def test_scheduler_event_fields() -> None:
    event = scheduled_event(SCHEDULE_ARN, FIRE_TIME, region="eu-west-1", account="123456789012")

    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.scheduler"
    assert event["resources"] == [SCHEDULE_ARN]
    # Scheduler sends its detail as JSON text.
    assert event["detail"] == "{}"
    assert event["time"] == "2024-01-04T02:00:00Z"
    assert set(event) == set(scheduled_event(RULE_ARN, FIRE_TIME))


def test_scheduler_event_parses_as_eventbridge() -> None:
    parsed = EventBridgeModel.model_validate(scheduled_event(SCHEDULE_ARN, FIRE_TIME))

    assert parsed.source == "aws.scheduler"


@pytest.mark.parametrize(
    "arn",
    ["arn:aws:scheduler:us-east-1:000000000000:schedule/nightly", "arn:aws:scheduler:us-east-1:0000:schedule/default/n"],
)
def test_invalid_schedule_arn_rejected(arn: str) -> None:
    with pytest.raises(InvalidParameter, match="schedule/GROUP/NAME"):
        scheduled_event(arn, FIRE_TIME)
