"""Which log lines and entries a substring and JSON field filters match."""

from __future__ import annotations

import io
import json

import pytest
from aws_lambda_powertools import Logger

from squall.metering.log_search import FieldMatch, LogFilter, build_filter, parse_field

ENTRY = (
    "START RequestId: r1 Version: $LATEST\n"
    + json.dumps({"level": "INFO", "message": "received", "order": {"id": 7, "total": 12.5}}) + "\n"
    + "plain text line mentioning ERROR\n"
    + json.dumps({"level": "ERROR", "message": "payment failed", "order": {"id": 7}, "retry": True}) + "\n"
    + "END RequestId: r1\n"
    + "REPORT RequestId: r1\tDuration: 1.00 ms\n"
)


@pytest.mark.parametrize(
    ("fields", "expected_messages"),
    [
        (["level=ERROR"], ["payment failed"]),
        (["level=INFO"], ["received"]),
        (["order.id=7"], ["received", "payment failed"]),
        (["order.total=12.5"], ["received"]),
        # Numbers compare by value, as in CloudWatch's filter patterns.
        (["order.total=12.50"], ["received"]),
        (["order.id=07"], ["received", "payment failed"]),
        (["order.id=7.0"], ["received", "payment failed"]),
        (["order.id=8"], []),
        (["retry=true"], ["payment failed"]),
        (["level=ERROR", "order.id=7"], ["payment failed"]),
        (["level=ERROR", "order.total=12.5"], []),  # both fields must be on one line
        (["level=error"], []),  # values are case-sensitive
        (["missing=x"], []),
    ],
)
def test_field_filter_lines(fields: list[str], expected_messages: list[str]) -> None:
    log_filter = build_filter(None, fields)
    assert log_filter is not None

    lines = log_filter.matching_lines(ENTRY)

    assert [json.loads(line)["message"] for line in lines] == expected_messages
    assert log_filter.entry_matches(ENTRY) is bool(expected_messages)


def test_substring_filter_matches_any_line() -> None:
    log_filter = LogFilter(contains="ERROR")

    assert log_filter.matching_lines(ENTRY) == [
        "plain text line mentioning ERROR",
        json.dumps({"level": "ERROR", "message": "payment failed", "order": {"id": 7}, "retry": True}),
    ]


def test_substring_and_field_on_same_line() -> None:
    log_filter = LogFilter(contains="payment", fields=(FieldMatch("level", "INFO"),))

    assert log_filter.matching_lines(ENTRY) == []
    assert not log_filter.entry_matches(ENTRY)


def test_key_with_dot_matched_before_path() -> None:
    line = json.dumps({"http.status": "500", "http": {"status": "200"}})

    assert LogFilter(fields=(FieldMatch("http.status", "500"),)).matching_lines(line) == [line]


def test_number_in_path_indexes_list() -> None:
    line = json.dumps({"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}]})

    assert LogFilter(fields=(FieldMatch("batchItemFailures.1.itemIdentifier", "m-2"),)).matching_lines(line) == [line]
    assert LogFilter(fields=(FieldMatch("batchItemFailures.0.itemIdentifier", "m-2"),)).matching_lines(line) == []
    assert LogFilter(fields=(FieldMatch("batchItemFailures.2.itemIdentifier", "m-2"),)).matching_lines(line) == []


@pytest.mark.parametrize(("value", "text"), [(7, "7"), (7.0, "7"), (None, "null"), (False, "false"), ([1, 2], "[1,2]")])
def test_field_value_written_as_typed(value: object, text: str) -> None:
    line = json.dumps({"value": value})

    assert FieldMatch("value", text).matches(json.loads(line))


def test_field_text_number_compares_as_text() -> None:
    line = json.dumps({"code": "07"})

    assert FieldMatch("code", "07").matches(json.loads(line))
    assert not FieldMatch("code", "7").matches(json.loads(line))


def test_powertools_json_logger_lines() -> None:
    stream = io.StringIO()
    logger = Logger(service="orders", stream=stream)
    logger.info("order received", order_id=7)
    logger.error("payment failed", order_id=7)
    text = "START RequestId: r1\n" + stream.getvalue() + "END RequestId: r1\n"

    lines = build_filter(None, ["level=ERROR", "service=orders", "order_id=7"]).matching_lines(text)  # type: ignore[union-attr]

    assert len(lines) == 1
    assert json.loads(lines[0])["message"] == "payment failed"


@pytest.mark.parametrize("line", ["not json", "{broken", '["level", "ERROR"]', '"level=ERROR"'])
def test_field_filter_skips_non_objects(line: str) -> None:
    assert not LogFilter(fields=(FieldMatch("level", "ERROR"),)).entry_matches(line)


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [("level=ERROR", "level", "ERROR"), ("msg=a=b", "msg", "a=b"), ("note=", "note", ""), ("order.id=7", "order.id", "7")],
)
def test_parse_field(text: str, path: str, value: str) -> None:
    assert parse_field(text) == FieldMatch(path, value)


@pytest.mark.parametrize("text", ["level", "=ERROR", ".level=x", "order..id=7", "order.=7"])
def test_parse_field_rejects_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_field(text)


def test_build_filter_none_without_conditions() -> None:
    assert build_filter(None, []) is None


def test_build_filter_rejects_empty_substring() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        build_filter("", [])


@pytest.mark.parametrize(
    ("log_filter", "hints"),
    [
        (LogFilter(contains="boom"), ["boom"]),
        (LogFilter(fields=(FieldMatch("level", "ERROR"),)), ["level", "ERROR"]),
        # A number may be written otherwise in the line (7.0 for 7), so only its key is a hint.
        (LogFilter(fields=(FieldMatch("order.id", "7"),)), ["id"]),
        # Quotes and non-ASCII may be escaped inside JSON text, so they give no hint.
        (LogFilter(fields=(FieldMatch("message", 'said "hi"'),)), ["message"]),
        (LogFilter(fields=(FieldMatch("city", "Zürich"),)), ["city"]),
    ],
)
def test_text_hints_only_json_safe(log_filter: LogFilter, hints: list[str]) -> None:
    assert log_filter.text_hints() == hints
