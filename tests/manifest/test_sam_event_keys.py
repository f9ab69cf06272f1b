"""Event keys SAM does not define are rejected, as `sam deploy` rejects them, with the closest valid name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from squall.manifest import load_service
from tests.manifest.conftest import WriteService
from tests.manifest.test_sam_functions import BASE, load_error, template

EVENTS = "Resources.Fn.Properties.Events"


@pytest.mark.parametrize(
    ("event", "key", "meant"),
    [
        ("{Type: HttpApi, Properties: {Path: /a, Method: get, PayloadFormatVerison: '1.0'}}",
         f"{EVENTS}.E.Properties.PayloadFormatVerison", "PayloadFormatVersion"),
        ("{Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn, FunctionResponseType: [ReportBatchItemFailures]}}",
         f"{EVENTS}.E.Properties.FunctionResponseType", "FunctionResponseTypes"),
        ("{Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn, BatchSise: 5}}",
         f"{EVENTS}.E.Properties.BatchSise", "BatchSize"),
        ("{Type: S3, Properties: {Bucket: !Ref Files, Events: 's3:ObjectCreated:*', Filtre: {}}}",
         f"{EVENTS}.E.Properties.Filtre", "Filter"),
        ("{Type: Schedule, Properties: {Schedule: rate(1 minute), Enable: false}}",
         f"{EVENTS}.E.Properties.Enable", "Enabled"),
        ("{Type: ScheduleV2, Properties: {ScheduleExpression: rate(1 minute), ScheduleExpressionTimeZone: UTC}}",
         f"{EVENTS}.E.Properties.ScheduleExpressionTimeZone", "ScheduleExpressionTimezone"),
        ("{Type: Kinesis, Properties: {Stream: !GetAtt Clicks.Arn, StartingPosition: LATEST, BatchSize: 5, "
         "MaximumRetryAttempt: 2}}",
         f"{EVENTS}.E.Properties.MaximumRetryAttempt", "MaximumRetryAttempts"),
        ("{Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn, ScalingConfig: {MaximumConcurency: 5}}}",
         f"{EVENTS}.E.Properties.ScalingConfig.MaximumConcurency", "MaximumConcurrency"),
    ],
)
def test_misspelt_event_property_rejected(write_service: WriteService, event: str, key: str, meant: str) -> None:
    error = load_error(write_service, template(BASE + "Events:\n  E: " + event + "\n"))

    assert error.path == "template.yaml"
    assert error.key == key
    assert f'did you mean "{meant}"?' in error.detail
    assert meant in error.detail.partition("expected one of: ")[2]


def test_api_event_rejects_payload_version(write_service: WriteService) -> None:
    # PayloadFormatVersion is a property of HttpApi events: REST API events always use payload 1.0.
    event = "{Type: Api, Properties: {Path: /a, Method: get, PayloadFormatVersion: '2.0'}}"

    error = load_error(write_service, template(BASE + "Events:\n  E: " + event + "\n"))

    assert error.key == f"{EVENTS}.E.Properties.PayloadFormatVersion"
    assert 'unknown property "PayloadFormatVersion" of Api events' in error.detail
    assert "expected one of: Auth, Method, Path" in error.detail


def test_property_beside_type_rejected(write_service: WriteService) -> None:
    event = "{Type: SQS, Enabled: false, Properties: {Queue: !GetAtt Jobs.Arn}}"

    error = load_error(write_service, template(BASE + "Events:\n  E: " + event + "\n"))

    assert error.key == f"{EVENTS}.E.Enabled"
    assert "expected one of: Properties, Type" in error.detail
    assert "Enabled is a property of SQS events, so it belongs under Properties" in error.detail


def test_unknown_event_key_rejected(write_service: WriteService) -> None:
    event = "{Type: SQS, Propertes: {Queue: !GetAtt Jobs.Arn}}"

    error = load_error(write_service, template(BASE + "Events:\n  E: " + event + "\n"))

    assert error.key == f"{EVENTS}.E.Propertes"
    assert 'did you mean "Properties"?' in error.detail


def test_defined_property_squall_lacks_warns(write_service: WriteService) -> None:
    event = "{Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn, KmsKeyArn: 'arn:aws:kms:us-east-1:000000000000:key/k'}}"
    write_service(template(BASE + "Events:\n  E: " + event + "\n"), name="template.yaml")

    warnings = load_service(Path(".")).warnings

    assert f"{EVENTS}.E.Properties.KmsKeyArn: not supported by Squall yet, ignored" in warnings


def test_filter_criteria_read_into_trigger(write_service: WriteService) -> None:
    criteria = "FilterCriteria: {Filters: [{Pattern: '{\"body\": {\"kind\": [\"order\"]}}'}]}"
    event = "{Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn, " + criteria + "}}"
    write_service(template(BASE + "Events:\n  E: " + event + "\n"), name="template.yaml")

    spec = load_service(Path("."))

    (trigger,) = spec.functions["Fn"].triggers
    assert [json.loads(pattern) for pattern in trigger.filter_patterns] == [{"body": {"kind": ["order"]}}]
    assert not any("FilterCriteria" in warning for warning in spec.warnings)


def test_invalid_filter_pattern_is_an_error(write_service: WriteService) -> None:
    criteria = "FilterCriteria: {Filters: [{Pattern: '{\"body\": {\"kind\": \"order\"}}'}]}"
    event = "{Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn, " + criteria + "}}"

    error = load_error(write_service, template(BASE + "Events:\n  E: " + event + "\n"))

    assert error.key == f"{EVENTS}.E.Properties.FilterCriteria.Filters[0].Pattern"
    assert "body.kind" in error.detail


@pytest.mark.parametrize(
    ("types", "key", "message"),
    [
        ("[ReportBatchItemFailure]", f"{EVENTS}.E.Properties.FunctionResponseTypes[0]",
         'expected "ReportBatchItemFailures", the one response type, got "ReportBatchItemFailure"'),
        ("ReportBatchItemFailures", f"{EVENTS}.E.Properties.FunctionResponseTypes",
         'expected a list such as [ReportBatchItemFailures], got "ReportBatchItemFailures"'),
    ],
)
def test_response_type_error_names_value(write_service: WriteService, types: str, key: str, message: str) -> None:
    event = "{Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn, FunctionResponseTypes: " + types + "}}"

    error = load_error(write_service, template(BASE + "Events:\n  E: " + event + "\n"))

    assert error.key == key
    assert error.detail == message


@pytest.mark.parametrize(
    ("config", "key", "meant"),
    [
        ("{MaximumRetryAttempt: 1}", "Resources.Fn.Properties.EventInvokeConfig.MaximumRetryAttempt",
         "MaximumRetryAttempts"),
        ("{DestinationConfig: {OnFailure: {Type: SQS, Destnation: !GetAtt Failed.Arn}}}",
         "Resources.Fn.Properties.EventInvokeConfig.DestinationConfig.OnFailure.Destnation", "Destination"),
    ],
)
def test_invoke_config_key_rejected(write_service: WriteService, config: str, key: str, meant: str) -> None:
    error = load_error(write_service, template(BASE + "EventInvokeConfig: " + config + "\n"))

    assert error.key == key
    assert f'did you mean "{meant}"?' in error.detail


def test_filter_on_unknown_field_rejected(write_service: WriteService) -> None:
    criteria = "FilterCriteria: {Filters: [{Pattern: '{\"bdy\": {\"kind\": [\"order\"]}}'}]}"
    event = "{Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn, " + criteria + "}}"

    error = load_error(write_service, template(BASE + "Events:\n  E: " + event + "\n"))

    assert error.key == f"{EVENTS}.E.Properties.FilterCriteria.Filters[0].Pattern"
    assert "no record has a field 'bdy' (did you mean 'body'?)" in error.detail
