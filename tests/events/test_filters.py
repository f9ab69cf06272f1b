"""Lambda event filter patterns: checking them, matching records, and each source's view of a record.

The cases follow the rules AWS documents for Lambda event filtering and
EventBridge event patterns; the records are made up for the tests.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from squall.events.filters import (
    MAX_PATTERN_CHARS,
    FilterCriteria,
    InvalidFilterPattern,
    check_pattern,
    compile_filters,
    dynamodb_filter_view,
    kinesis_filter_view,
    sqs_filter_view,
)


def matches(pattern: dict[str, Any], record: dict[str, Any]) -> bool:
    return FilterCriteria([check_pattern(pattern)]).matches(record)


MATCH_CASES = [
    # Null, empty and equals
    ({"UserID": [None]}, {"UserID": None}, True),
    ({"UserID": [None]}, {"UserID": "u1"}, False),
    ({"UserID": [None]}, {}, False),
    ({"LastName": [""]}, {"LastName": ""}, True),
    ({"LastName": [""]}, {"LastName": "Doe"}, False),
    ({"Name": ["Alice"]}, {"Name": "Alice"}, True),
    ({"Name": ["Alice"]}, {"Name": "alice"}, False),
    ({"Name": ["Alice"]}, {"Name": "Alice "}, False),
    ({"Name": ["Alice"]}, {}, False),
    ({"flag": [True]}, {"flag": True}, True),
    ({"flag": [True]}, {"flag": "true"}, False),
    ({"flag": [True]}, {"flag": 1}, False),
    ({"count": [1]}, {"count": True}, False),
    # Numbers outside a numeric rule compare by their JSON text
    ({"Price": [300]}, {"Price": 300}, True),
    ({"Price": [300]}, {"Price": 300.0}, False),
    ({"Price": [300]}, {"Price": "300"}, False),
    # And, Or
    ({"Location": ["New York"], "Day": ["Monday"]}, {"Location": "New York", "Day": "Monday"}, True),
    ({"Location": ["New York"], "Day": ["Monday"]}, {"Location": "New York", "Day": "Tuesday"}, False),
    ({"Location": ["New York"], "Day": ["Monday"]}, {"Location": "New York"}, False),
    ({"PaymentType": ["Credit", "Debit"]}, {"PaymentType": "Debit"}, True),
    ({"PaymentType": ["Credit", "Debit"]}, {"PaymentType": "Cash"}, False),
    # Fields the pattern does not name are ignored
    ({"a": ["x"]}, {"a": "x", "b": "anything"}, True),
    # anything-but
    ({"Weather": [{"anything-but": ["Raining"]}]}, {"Weather": "Sunny"}, True),
    ({"Weather": [{"anything-but": ["Raining"]}]}, {"Weather": "Raining"}, False),
    ({"Weather": [{"anything-but": ["Raining"]}]}, {}, False),
    ({"state": [{"anything-but": "initializing"}]}, {"state": "running"}, True),
    ({"state": [{"anything-but": "initializing"}]}, {"state": "initializing"}, False),
    ({"code": [{"anything-but": [100, 200]}]}, {"code": 300}, True),
    ({"code": [{"anything-but": [100, 200]}]}, {"code": 200}, False),
    ({"code": [{"anything-but": [100, 200]}]}, {"code": 200.0}, False),
    ({"Region": [{"anything-but": {"prefix": "us-"}}]}, {"Region": "eu-west-1"}, True),
    ({"Region": [{"anything-but": {"prefix": "us-"}}]}, {"Region": "us-east-1"}, False),
    ({"FileName": [{"anything-but": {"suffix": ".png"}}]}, {"FileName": "a.jpg"}, True),
    ({"FileName": [{"anything-but": {"suffix": ".png"}}]}, {"FileName": "a.png"}, False),
    ({"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]}, {"state": "INITIALIZING"}, False),
    ({"state": [{"anything-but": {"equals-ignore-case": ["a", "b"]}}]}, {"state": "B"}, False),
    ({"state": [{"anything-but": {"equals-ignore-case": ["a", "b"]}}]}, {"state": "c"}, True),
    ({"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}, {"FilePath": "/usr/lib/x"}, False),
    ({"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}, {"FilePath": "/usr/bin/x"}, True),
    # numeric
    ({"Price": [{"numeric": ["=", 100]}]}, {"Price": 100}, True),
    ({"Price": [{"numeric": ["=", 100]}]}, {"Price": 100.0}, True),
    ({"Price": [{"numeric": ["=", 100]}]}, {"Price": "100"}, False),
    ({"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 20}, True),
    ({"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 10}, False),
    ({"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 20.5}, False),
    ({"Price": [{"numeric": [">=", 10, "<", 20]}]}, {"Price": 10}, True),
    ({"Price": [{"numeric": ["<", 0]}]}, {"Price": -0.5}, True),
    ({"Price": [{"numeric": [">", 0]}]}, {"Price": True}, False),
    # exists
    ({"ProductName": [{"exists": True}]}, {"ProductName": "Lamp"}, True),
    ({"ProductName": [{"exists": True}]}, {"ProductName": None}, True),
    ({"ProductName": [{"exists": True}]}, {}, False),
    ({"ProductName": [{"exists": False}]}, {}, True),
    ({"ProductName": [{"exists": False}]}, {"ProductName": "Lamp"}, False),
    ({"a": {"b": [{"exists": False}]}}, {}, True),
    ({"a": [{"exists": True}]}, {"a": {"b": 1}}, False),
    ({"a": [{"exists": True}]}, {"a": []}, False),
    # prefix, suffix and their ignore-case forms
    ({"Region": [{"prefix": "us-"}]}, {"Region": "us-east-1"}, True),
    ({"Region": [{"prefix": "us-"}]}, {"Region": "eu-west-1"}, False),
    ({"Region": [{"prefix": "us-"}]}, {"Region": 1}, False),
    ({"service": [{"prefix": {"equals-ignore-case": "eventb"}}]}, {"service": "EventBridge"}, True),
    ({"FileName": [{"suffix": ".png"}]}, {"FileName": "cat.png"}, True),
    ({"FileName": [{"suffix": ".png"}]}, {"FileName": "cat.PNG"}, False),
    ({"service": [{"suffix": {"equals-ignore-case": "tBridge"}}]}, {"service": "EVENTBRIDGE"}, True),
    # equals-ignore-case
    ({"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "ALICE"}, True),
    ({"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "alicia"}, False),
    # wildcard
    ({"EventSource": [{"wildcard": "dir/*.png"}]}, {"EventSource": "dir/cat.png"}, True),
    ({"EventSource": [{"wildcard": "dir/*.png"}]}, {"EventSource": "dir/sub/cat.png"}, True),
    ({"EventSource": [{"wildcard": "dir/*.png"}]}, {"EventSource": "other/cat.png"}, False),
    ({"EventSource": [{"wildcard": "dir/*.png"}]}, {"EventSource": "dir/cat.png.bak"}, False),
    ({"name": [{"wildcard": "a\\*b"}]}, {"name": "a*b"}, True),
    ({"name": [{"wildcard": "a\\*b"}]}, {"name": "axb"}, False),
    ({"name": [{"wildcard": "a.c"}]}, {"name": "abc"}, False),
    # $or
    ({"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}, {"Day": "Monday"}, True),
    ({"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}, {"Location": "Boston", "Day": "Sunday"}, False),
    ({"source": ["app"], "$or": [{"a": [1]}, {"b": [2]}]}, {"source": "app", "b": 2}, True),
    ({"source": ["app"], "$or": [{"a": [1]}, {"b": [2]}]}, {"source": "web", "b": 2}, False),
    ({"detail": {"$or": [{"x": ["1"]}, {"y": ["2"]}]}}, {"detail": {"y": "2"}}, True),
    # Nested fields and lists
    ({"a": {"b": ["x"]}}, {"a": {"b": "x"}}, True),
    ({"a": {"b": ["x"]}}, {"a": "x"}, False),
    ({"a": {"b": ["x"]}}, {}, False),
    ({"tags": ["red"]}, {"tags": ["blue", "red"]}, True),
    ({"tags": ["red"]}, {"tags": ["blue"]}, False),
    ({"items": {"id": ["1"], "ok": [True]}}, {"items": [{"id": "1", "ok": False}, {"id": "2", "ok": True}]}, False),
    ({"items": {"id": ["1"], "ok": [True]}}, {"items": [{"id": "2", "ok": True}, {"id": "1", "ok": True}]}, True),
]


@pytest.mark.parametrize(("pattern", "record", "expected"), MATCH_CASES)
def test_rule_matches_as_documented(pattern: dict[str, Any], record: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, record) is expected


def test_filters_are_ored() -> None:
    criteria = FilterCriteria([check_pattern({"a": ["1"]}), check_pattern({"b": ["2"]})])

    assert criteria.matches({"a": "1"})
    assert criteria.matches({"b": "2"})
    assert not criteria.matches({"a": "2", "b": "1"})


def test_no_patterns_compile_to_none() -> None:
    assert compile_filters(()) is None
    assert compile_filters(('{"a":["1"]}',)) is not None


def test_pattern_text_is_compact_json() -> None:
    assert check_pattern('{ "body" : { "RequestCode" : [ "BBBB" ] } }') == '{"body":{"RequestCode":["BBBB"]}}'
    assert check_pattern({"eventName": ["MODIFY"]}) == '{"eventName":["MODIFY"]}'


INVALID_CASES = [
    ([], (), "expected a mapping of record fields"),
    ({}, (), "expected a mapping of record fields"),
    ({"eventName": "INSERT"}, ("eventName",), 'such as ["INSERT"]'),
    ({"a": []}, ("a",), "at least one value or rule"),
    ({"a": {}}, ("a",), "expected a mapping of record fields"),
    ({"a": [["x"]]}, ("a", 0), "a value, or a mapping with one of the rules"),
    ({"a": [{"prefix": "x", "suffix": "y"}]}, ("a", 0), "a value, or a mapping with one of the rules"),
    ({"a": [{"begins-with": "x"}]}, ("a", 0, "begins-with"), 'unknown rule "begins-with"'),
    ({"a": [{"cidr": "10.0.0.0/24"}]}, ("a", 0, "cidr"), "does not support"),
    ({"a": [{"prefix": 1}]}, ("a", 0, "prefix"), "expected a string, got 1"),
    ({"a": [{"prefix": {"ignore-case": "x"}}]}, ("a", 0, "prefix"), '"equals-ignore-case"'),
    ({"a": [{"exists": "yes"}]}, ("a", 0, "exists"), "expected true or false"),
    ({"a": [{"numeric": [">", "5"]}]}, ("a", 0, "numeric", 1), "expected a number"),
    ({"a": [{"numeric": ["!=", 5]}]}, ("a", 0, "numeric", 0), 'one of "="'),
    ({"a": [{"numeric": [">", 5, "<", 1]}]}, ("a", 0, "numeric"), "with LOW below HIGH"),
    ({"a": [{"numeric": ["<", 5, ">", 1]}]}, ("a", 0, "numeric"), "with LOW below HIGH"),
    ({"a": [{"numeric": [">"]}]}, ("a", 0, "numeric"), "expected a list such as"),
    ({"a": [{"anything-but": ["x", 1]}]}, ("a", 0, "anything-but"), "a list of strings or a list of numbers"),
    ({"a": [{"anything-but": []}]}, ("a", 0, "anything-but"), "a list of strings or a list of numbers"),
    ({"a": [{"anything-but": {"numeric": [">", 1]}}]}, ("a", 0, "anything-but"), "one of prefix, suffix"),
    ({"a": [{"wildcard": "a**b"}]}, ("a", 0, "wildcard"), "two * in a row"),
    ({"a": [{"wildcard": "a\\b"}]}, ("a", 0, "wildcard"), "a backslash escapes only"),
    ({"$or": {"a": ["1"]}}, ("$or",), "a list of patterns"),
    ({"$or": [{"a": ["1"]}, "b"]}, ("$or", 1), "expected a mapping of record fields"),
]


@pytest.mark.parametrize(("pattern", "path", "message"), INVALID_CASES)
def test_invalid_pattern_is_rejected(pattern: Any, path: tuple[Any, ...], message: str) -> None:
    with pytest.raises(InvalidFilterPattern) as raised:
        check_pattern(pattern)

    assert raised.value.path == path
    assert message in raised.value.message


def test_pattern_text_that_is_not_json() -> None:
    with pytest.raises(InvalidFilterPattern, match="not JSON"):
        check_pattern("{body: [x]}")


def test_pattern_longer_than_lambda_allows() -> None:
    pattern = {"a": ["x" * MAX_PATTERN_CHARS]}

    with pytest.raises(InvalidFilterPattern, match=f"at most {MAX_PATTERN_CHARS} characters"):
        check_pattern(pattern)


def test_stream_data_pattern_must_name_fields() -> None:
    with pytest.raises(InvalidFilterPattern) as raised:
        check_pattern({"data": ["hello"]}, data_key="data")

    assert raised.value.path == ("data",)
    assert "only as JSON" in raised.value.message
    assert check_pattern({"data": {"kind": ["a"]}}, data_key="data") == '{"data":{"kind":["a"]}}'


# Record views


def _sqs_record(body: str) -> dict[str, Any]:
    return {
        "messageId": "m1",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {"kind": {"stringValue": "order", "dataType": "String"}},
        "eventSource": "aws:sqs",
    }


@pytest.mark.parametrize(
    ("pattern", "body", "expected"),
    [
        ({"body": {"RequestCode": ["BBBB"]}}, '{"RequestCode": "BBBB"}', True),
        ({"body": {"RequestCode": ["BBBB"]}}, '{"RequestCode": "AAAA"}', False),
        ({"body": {"RecordNumber": [{"numeric": [">", 9999]}]}}, '{"RecordNumber": 10000}', True),
        # A plain-string body matches values, and a JSON body only nested fields.
        ({"body": ["hello"]}, "hello", True),
        ({"body": [{"prefix": "hel"}]}, "hello", True),
        ({"body": {"RequestCode": ["BBBB"]}}, "RequestCode BBBB", False),
        ({"body": {"RequestCode": [{"exists": False}]}}, "plain text", False),
        ({"body": ['{"a":1}']}, '{"a":1}', False),
        # Patterns on other fields ignore the body's format.
        ({"messageAttributes": {"kind": {"stringValue": ["order"]}}}, "plain text", True),
        ({"attributes": {"ApproximateReceiveCount": ["1"]}}, '{"a": 1}', True),
    ],
)
def test_sqs_view(pattern: dict[str, Any], body: str, expected: bool) -> None:
    assert matches(pattern, sqs_filter_view(_sqs_record(body))) is expected


def test_sqs_view_leaves_record_unchanged() -> None:
    record = _sqs_record('{"a": 1}')

    view = sqs_filter_view(record)

    assert view["body"] == {"a": 1}
    assert record["body"] == '{"a": 1}'


def _kinesis_record(data: bytes, partition_key: str = "1") -> dict[str, Any]:
    return {
        "kinesis": {
            "partitionKey": partition_key,
            "sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
            "data": base64.b64encode(data).decode("ascii"),
        },
        "eventSource": "aws:kinesis",
        "eventName": "aws:kinesis:record",
    }


@pytest.mark.parametrize(
    ("pattern", "data", "expected"),
    [
        ({"data": {"order": {"type": ["buy"]}}}, {"order": {"type": "buy", "quantity": 1000}}, True),
        ({"data": {"order": {"type": ["buy"]}}}, {"order": {"type": "sell"}}, False),
        ({"data": {"Temperature": [{"numeric": [">", 50, "<=", 60]}]}}, {"Temperature": 55}, True),
        ({"partitionKey": ["1"], "data": {"Location": ["Los Angeles"]}}, {"Location": "Los Angeles"}, True),
        ({"partitionKey": ["2"], "data": {"Location": ["Los Angeles"]}}, {"Location": "Los Angeles"}, False),
    ],
)
def test_kinesis_view(pattern: dict[str, Any], data: dict[str, Any], expected: bool) -> None:
    record = _kinesis_record(json.dumps(data).encode())

    assert matches(pattern, kinesis_filter_view(record)) is expected


def test_kinesis_data_that_is_not_json() -> None:
    record = _kinesis_record(b"\x00\xffnot json")

    assert not matches({"data": {"a": [{"exists": False}]}}, kinesis_filter_view(record))
    assert matches({"partitionKey": ["1"]}, kinesis_filter_view(record))


def _dynamodb_record(event_name: str, image: dict[str, Any]) -> dict[str, Any]:
    return {
        "eventID": "1",
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": {"CustomerName": {"S": "AnyCompany Industries"}},
            "NewImage": image,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


@pytest.mark.parametrize(
    ("pattern", "event_name", "image", "expected"),
    [
        ({"eventName": ["MODIFY"]}, "MODIFY", {}, True),
        ({"eventName": ["MODIFY"]}, "INSERT", {}, False),
        ({"dynamodb": {"Keys": {"CustomerName": {"S": ["AnyCompany Industries"]}}}}, "INSERT", {}, True),
        (
            {"dynamodb": {"NewImage": {"AccountManager": {"S": ["Pat Candella", "Shirley Rodriguez"]}}}},
            "MODIFY",
            {"AccountManager": {"S": "Shirley Rodriguez"}},
            True,
        ),
        (
            {"dynamodb": {"NewImage": {"AccountManager": {"S": ["Pat Candella"]}}}},
            "MODIFY",
            {"AccountManager": {"S": "Someone Else"}},
            False,
        ),
        ({"dynamodb": {"NewImage": {"Missing": [{"exists": False}]}}}, "INSERT", {"Other": {"S": "x"}}, True),
    ],
)
def test_dynamodb_view(
    pattern: dict[str, Any], event_name: str, image: dict[str, Any], expected: bool
) -> None:
    record = _dynamodb_record(event_name, image)

    assert matches(pattern, dynamodb_filter_view(record)) is expected
