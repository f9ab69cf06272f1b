"""Filter patterns on queue, stream and table-stream triggers, read from squall.yml and serverless.yml."""

from __future__ import annotations

import pytest

from squall.errors import ManifestError
from squall.events.filters import queue_filter_warnings
from squall.manifest import load_service
from squall.manifest.spec import QueueTrigger, StreamTrigger, TableStreamTrigger
from tests.manifest.conftest import WriteService

SQUALL_YML = """\
service: shop
functions:
  greet:
    handler: app.greet
    events:
      - queue:
          name: orders
          filter_patterns:
            - body: {kind: [order], total: [{numeric: [">", 100]}]}
            - messageAttributes: {priority: {stringValue: [high]}}
      - table_stream:
          table: users
          filter_patterns:
            - eventName: [MODIFY]
      - stream:
          name: clicks
          filter_patterns:
            - data: {page: [{prefix: /shop}]}
"""


def test_squall_yml_filter_patterns(write_service: WriteService) -> None:
    service = load_service(write_service(SQUALL_YML))

    queue, table, stream = service.functions["greet"].triggers
    assert isinstance(queue, QueueTrigger)
    assert queue.filter_patterns == (
        '{"body":{"kind":["order"],"total":[{"numeric":[">",100]}]}}',
        '{"messageAttributes":{"priority":{"stringValue":["high"]}}}',
    )
    assert isinstance(table, TableStreamTrigger)
    assert table.filter_patterns == ('{"eventName":["MODIFY"]}',)
    assert isinstance(stream, StreamTrigger)
    assert stream.filter_patterns == ('{"data":{"page":[{"prefix":"/shop"}]}}',)


def test_queue_patterns_beyond_body_warned(write_service: WriteService) -> None:
    service = load_service(write_service(SQUALL_YML))

    warnings = queue_filter_warnings(service)

    # Lambda filters SQS messages on body only; the table and stream patterns are not queue patterns.
    assert warnings == [
        "functions.greet.events: the filter patterns of queue 'orders' match messageAttributes, but Lambda filters "
        "SQS messages on body only; Squall matches those fields, so the patterns may select other messages on AWS"
    ]


def test_trigger_without_patterns(write_service: WriteService) -> None:
    folder = write_service(
        """\
        service: shop
        functions:
          greet: {handler: app.greet, events: [{queue: {name: orders}}]}
        """
    )

    trigger = load_service(folder).functions["greet"].triggers[0]

    assert trigger.filter_patterns == ()


SQUALL_MISTAKES = [
    (
        "[{eventName: INSERT}]",
        'squall.yml: functions.greet.events[0].table_stream.filter_patterns[0].eventName: '
        'expected a list of values and rules such as ["INSERT"], or a mapping of nested fields, got "INSERT"',
    ),
    (
        "[{body: {n: [{numeric: [<, 5, '>', 1]}]}}]",
        "squall.yml: functions.greet.events[0].table_stream.filter_patterns[0].body.n[0].numeric: expected",
    ),
    (
        "[{dynamodb: [x]}]",
        "squall.yml: functions.greet.events[0].table_stream.filter_patterns[0].dynamodb: "
        "expected a mapping of the record's dynamodb fields",
    ),
    (
        "[{a: [{begins: x}]}]",
        'squall.yml: functions.greet.events[0].table_stream.filter_patterns[0].a[0].begins: unknown rule "begins", '
        "expected one of prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists",
    ),
    (
        "[{a: [1]}, {a: [2]}, {a: [3]}, {a: [4]}, {a: [5]}, {a: [6]}]",
        "squall.yml: functions.greet.events[0].table_stream.filter_patterns: "
        "expected a list of 1 to 5 filter patterns",
    ),
    (
        "[INSERT]",
        "squall.yml: functions.greet.events[0].table_stream.filter_patterns[0]: expected a filter pattern",
    ),
]


@pytest.mark.parametrize(("patterns", "message"), SQUALL_MISTAKES)
def test_squall_yml_invalid_pattern(write_service: WriteService, patterns: str, message: str) -> None:
    folder = write_service(
        f"""\
        service: shop
        functions:
          greet:
            handler: app.greet
            events:
              - table_stream: {{table: users, filter_patterns: {patterns}}}
        """
    )

    with pytest.raises(ManifestError) as raised:
        load_service(folder)

    assert message in str(raised.value)


SERVERLESS_YML = """\
service: shop
provider: {name: aws, runtime: python3.12}
functions:
  greet:
    handler: app.greet
    events:
      - sqs:
          arn: arn:aws:sqs:us-east-1:123456789012:orders
          filterPatterns:
            - body: {kind: [order]}
      - stream:
          type: dynamodb
          arn: arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2024-01-01T00:00:00.000
          filterPatterns:
            - eventName: [INSERT]
              dynamodb: {NewImage: {state: {S: [DONE]}}}
            - eventName: [MODIFY]
      - stream:
          arn: arn:aws:kinesis:us-east-1:123456789012:stream/clicks
          filterPatterns:
            - data: {page: [{anything-but: [/health]}]}
"""


def test_serverless_filter_patterns(write_service: WriteService) -> None:
    service = load_service(write_service(SERVERLESS_YML, name="serverless.yml"))

    queue, table, stream = service.functions["greet"].triggers
    assert queue.filter_patterns == ('{"body":{"kind":["order"]}}',)
    assert table.filter_patterns == (
        '{"eventName":["INSERT"],"dynamodb":{"NewImage":{"state":{"S":["DONE"]}}}}',
        '{"eventName":["MODIFY"]}',
    )
    assert stream.filter_patterns == ('{"data":{"page":[{"anything-but":["/health"]}]}}',)
    assert not [warning for warning in service.warnings if "filterPatterns" in warning]


SERVERLESS_MISTAKES = [
    (
        "{eventName: INSERT}",
        "serverless.yml: functions.greet.events[0].stream.filterPatterns: expected a list of 1 to 5 filter patterns",
    ),
    (
        "[{eventName: [INSERT], dynamodb: {NewImage: {n: {N: [{numeric: ['>']}]}}}}]",
        "serverless.yml: functions.greet.events[0].stream.filterPatterns[0].dynamodb.NewImage.n.N[0].numeric: "
        'expected a list such as ["=", 100]',
    ),
    (
        "[{eventName: [{exists: maybe}]}]",
        "serverless.yml: functions.greet.events[0].stream.filterPatterns[0].eventName[0].exists: "
        'expected true or false, got "maybe"',
    ),
]


@pytest.mark.parametrize(("patterns", "message"), SERVERLESS_MISTAKES)
def test_serverless_invalid_pattern(write_service: WriteService, patterns: str, message: str) -> None:
    folder = write_service(
        f"""\
        service: shop
        provider: {{name: aws, runtime: python3.12}}
        functions:
          greet:
            handler: app.greet
            events:
              - stream:
                  arn: arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2024-01-01T00:00:00.000
                  filterPatterns: {patterns}
        """,
        name="serverless.yml",
    )

    with pytest.raises(ManifestError) as raised:
        load_service(folder)

    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        ("- body: {kind", "- bdy: {kind", "events[0].queue.filter_patterns[0].bdy",
         "no record has a field 'bdy' (did you mean 'body'?), so the pattern would drop every one"),
        ("- eventName: [MODIFY]", "- $or: [{eventName: [MODIFY]}, {evntName: [INSERT]}]",
         "events[1].table_stream.filter_patterns[0].$or[1].evntName", "did you mean 'eventName'?"),
        ("- data: {page", "- partitionKey: [a]\n            - Data: {page", "events[2].stream.filter_patterns[1].Data",
         "did you mean 'data'?"),
    ],
    ids=["queue", "table-stream-or", "stream"],
)
def test_field_no_record_has_is_an_error(write_service: WriteService, old: str, new: str, key: str, message: str) -> None:
    with pytest.raises(ManifestError) as raised:
        load_service(write_service(SQUALL_YML.replace(old, new)))

    assert f"functions.greet.{key}" in str(raised.value)
    assert message in str(raised.value)
