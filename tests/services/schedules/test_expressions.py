"""Which schedule expressions parse, and the error raised for those EventBridge rejects."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from squall.services.errors import InvalidParameter
from squall.services.schedules import CronSchedule, InvalidScheduleExpression, RateSchedule, parse_schedule

CONFORMANCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "conformance"
EXPRESSIONS = json.loads((CONFORMANCE / "schedule-expressions.json").read_text())
SNAPSHOT = json.loads((CONFORMANCE / "aws-recorded" / "events-schedule.snapshot.json").read_text())


def _recorded_valid() -> list[str]:
    """Return the expressions EventBridge accepted and listed back in the recording."""
    found: list[str] = []
    for entry in SNAPSHOT.values():
        content = entry["recorded-content"]
        if "put-rule" in content:
            found.extend(rule["ScheduleExpression"] for rule in content["list-rules"]["Rules"])
    return found


def _recorded_invalid() -> list[tuple[str, str]]:
    """Return (expression, EventBridge's error message) for each rejected expression in the recording."""
    found = []
    for name, entry in SNAPSHOT.items():
        error = entry["recorded-content"].get("invalid-put-rule")
        if error is None:
            continue
        expression = re.search(r"\[(.+)\]$", name)
        assert expression is not None, f"no expression in the recorded test name {name}"
        found.append((expression.group(1), error["Error"]["Message"]))
    return found


RECORDED_VALID = _recorded_valid()
RECORDED_INVALID = _recorded_invalid()


def test_recordings_contain_cases() -> None:
    assert len(RECORDED_VALID) >= 10
    assert len(RECORDED_INVALID) >= 4


@pytest.mark.parametrize("expression", EXPRESSIONS["valid"] + RECORDED_VALID)
def test_accepted_by_eventbridge_parses(expression: str) -> None:
    schedule = parse_schedule(expression)

    assert schedule.expression == expression


@pytest.mark.parametrize("expression", EXPRESSIONS["invalid"])
def test_rejected_by_eventbridge_raises(expression: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_schedule(expression)

    assert repr(expression) in str(caught.value)
    assert "Expected " in str(caught.value)


@pytest.mark.parametrize(("expression", "aws_message"), RECORDED_INVALID)
def test_rejection_starts_with_aws_message(expression: str, aws_message: str) -> None:
    with pytest.raises(InvalidScheduleExpression) as caught:
        parse_schedule(expression)

    assert caught.value.message.startswith(aws_message)
    assert repr(expression) in caught.value.message
    assert caught.value.code == "ValidationException"
    assert caught.value.status == 400
    assert caught.value.expression == expression


@pytest.mark.parametrize(
    ("expression", "interval"),
    [
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(5 minutes)", timedelta(minutes=5)),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(12 hours)", timedelta(hours=12)),
        ("rate(1 day)", timedelta(days=1)),
        ("rate(2 days)", timedelta(days=2)),
    ],
)
def test_rate_interval(expression: str, interval: timedelta) -> None:
    schedule = parse_schedule(expression)

    assert isinstance(schedule, RateSchedule)
    assert schedule.interval == interval


# Forms the EventBridge cron reference documents, beyond the conformance list.
@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 0 L * ? *)",
        "cron(0 0 LW * ? *)",
        "cron(0 0 15W * ? *)",
        "cron(0 0 ? * L *)",
        "cron(0 0 ? * FRIL *)",
        "cron(0 0 ? * 3#2 *)",
        "cron(0 0 ? * MON#5 *)",
        "cron(*/5 * * * ? *)",
        "cron(0-15/1 * * * ? *)",
        "cron(0 11-23/2 * * ? *)",
        "cron(0 0 1-31/30 * ? *)",
        "cron(0 0 1 1-12/3 ? *)",
        "cron(0 0 1 JAN,FEB,MAR ? 2020/5)",
        "cron(0 9 ? * mon-fri *)",
        "cron(0 9 ? * Wed-Fri *)",
        "cron(0 9 ? jul * *)",
        "cron(0 0 1 1 ? 1970)",
        "cron(59 23 31 12 ? 2199)",
        "cron(0 0 31 2 ? *)",
    ],
)
def test_documented_cron_form_parses(expression: str) -> None:
    assert isinstance(parse_schedule(expression), CronSchedule)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("cron(0 0 ? * ? *)", "both '?'"),
        ("cron(0 0 1 * MON *)", "both set"),
        ("cron(0 0 ? * 3#1,6#3 *)", "must stand alone"),
        ("cron(0 0 ? * 3#6 *)", "1 to 5"),
        ("cron(0 0 1W,15 * ? *)", "must stand alone"),
        ("cron(0 0 ? * */2 *)", "does not accept"),
        ("cron(0 0 ? * 0 *)", "out of range"),
        ("cron(0 0 ? * 8 *)", "out of range"),
        ("cron(0 24 * * ? *)", "out of range"),
        ("cron(0 0 0 * ? *)", "out of range"),
        ("cron(0 0 32 * ? *)", "out of range"),
        ("cron(0 0 1 13 ? *)", "out of range"),
        ("cron(0 0 1 * ? 1969)", "out of range"),
        ("cron(0 0 1 * ? 2200)", "out of range"),
        ("cron(0/0 * * * ? *)", "step"),
        ("cron(0/61 * * * ? *)", "step"),
        ("cron(0 0 1 * ? 2030-2025)", "backwards"),
        ("cron(1,,2 * * * ? *)", "empty"),
        ("cron(0 ? * * * *)", "invalid"),
        ("cron(0 0 * * ? * *)", "6 fields"),
        ("cron(0 0 * * ?)", "6 fields"),
        ("cron(0  0 * * ? *)", "6 fields"),
        ("cron(0 0 * * ? *) ", "must end with ')'"),
        ("CRON(0 0 * * ? *)", "starts with"),
        ("cron(0 0 * * ? *", "must end with ')'"),
        ("rate(5 minutes", "must end with ')'"),
        ("rate(10  minutes)", "one space"),
        ("rate(1.5 hours)", "whole number"),
        ("rate(99999999999999 days)", "too large"),
        ("", "starts with"),
        ("at(2024-01-01T00:00:00)", "starts with"),
    ],
)
def test_invalid_expression_reason(expression: str, reason: str) -> None:
    with pytest.raises(InvalidScheduleExpression) as caught:
        parse_schedule(expression)

    assert reason in caught.value.reason
    assert repr(expression) in caught.value.message


def test_field_error_quotes_value_as_written() -> None:
    with pytest.raises(InvalidScheduleExpression) as caught:
        parse_schedule("cron(0 dummy ? * MON-FRI *)")

    assert "hours value 'dummy'" in caught.value.message
    assert "use 0-23" in caught.value.message
