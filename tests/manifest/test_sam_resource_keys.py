"""Resource properties and Environment keys CloudFormation does not define are rejected, as `sam deploy` rejects them."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.manifest import load_service
from tests.manifest.conftest import WriteService
from tests.manifest.test_sam_functions import BASE, RESOURCES, load_error, template


@pytest.mark.parametrize(
    ("properties", "globals_text", "key"),
    [
        (BASE + "Environment: {Variable: {A: b}}\n", "", "Resources.Fn.Properties.Environment.Variable"),
        (BASE, "Environment: {Variable: {A: b}}\n", "Globals.Function.Environment.Variable"),
    ],
)
def test_environment_key_rejected(write_service: WriteService, properties: str, globals_text: str, key: str) -> None:
    error = load_error(write_service, template(properties, globals_text))

    assert error.key == key
    assert 'did you mean "Variables"?' in error.detail
    assert "expected one of: Variables" in error.detail


@pytest.mark.parametrize(
    ("resource", "key", "meant"),
    [
        ("Orders: {Type: AWS::DynamoDB::Table, Properties: {TableNme: orders, KeySchema: [{AttributeName: id, "
         "KeyType: HASH}], AttributeDefinitions: [{AttributeName: id, AttributeType: S}]}}",
         "Resources.Orders.Properties.TableNme", "TableName"),
        ("Q: {Type: AWS::SQS::Queue, Properties: {VisibilityTimout: 60}}",
         "Resources.Q.Properties.VisibilityTimout", "VisibilityTimeout"),
        ("B: {Type: AWS::S3::Bucket, Properties: {BuckeName: b}}", "Resources.B.Properties.BuckeName", "BucketName"),
        ("T: {Type: AWS::Serverless::SimpleTable, Properties: {PrimaryKeys: {Name: id, Type: String}}}",
         "Resources.T.Properties.PrimaryKeys", "PrimaryKey"),
        ("S: {Type: AWS::Kinesis::Stream, Properties: {ShardCont: 2}}", "Resources.S.Properties.ShardCont", "ShardCount"),
        ("L: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: layer/, LayerNme: common}}",
         "Resources.L.Properties.LayerNme", "LayerName"),
        ("A: {Type: AWS::Serverless::Api, Properties: {StageName: v1, TracingEnable: true}}",
         "Resources.A.Properties.TracingEnable", "TracingEnabled"),
        ("H: {Type: AWS::Serverless::HttpApi, Properties: {StageNme: v1}}", "Resources.H.Properties.StageNme",
         "StageName"),
        ("R: {Type: AWS::Events::Rule, Properties: {ScheduleExpresion: rate(1 minute)}}",
         "Resources.R.Properties.ScheduleExpresion", "ScheduleExpression"),
    ],
)
def test_misspelt_resource_property_rejected(write_service: WriteService, resource: str, key: str, meant: str) -> None:
    error = load_error(write_service, template(BASE, resources=RESOURCES + "  " + resource + "\n"),
                       modules=("app.py", "layer/x.py"))

    assert error.key == key
    assert f'did you mean "{meant}"?' in error.detail
    assert "expected one of: " in error.detail


def test_defined_resource_property_warns(write_service: WriteService) -> None:
    resources = RESOURCES + "  Q: {Type: AWS::SQS::Queue, Properties: {KmsMasterKeyId: alias/aws/sqs}}\n"
    write_service(template(BASE, resources=resources), name="template.yaml")

    warnings = load_service(Path(".")).warnings

    assert "Resources.Q.Properties.KmsMasterKeyId: not supported by Squall yet, ignored" in warnings


@pytest.mark.parametrize(
    ("policy", "key", "message"),
    [
        ("{deadLetterTargetArn: !GetAtt Failed.Arn}", "Resources.Q.Properties.RedrivePolicy.maxReceiveCount",
         "missing, SQS requires both deadLetterTargetArn and maxReceiveCount"),
        ("{deadLetterTargetArn: !GetAtt Failed.Arn, maxRecieveCount: 3}",
         "Resources.Q.Properties.RedrivePolicy.maxRecieveCount", 'did you mean "maxReceiveCount"?'),
    ],
)
def test_redrive_policy_needs_count(write_service: WriteService, policy: str, key: str, message: str) -> None:
    resources = RESOURCES + "  Q: {Type: AWS::SQS::Queue, Properties: {RedrivePolicy: " + policy + "}}\n"

    error = load_error(write_service, template(BASE, resources=resources))

    assert error.key == key
    assert message in error.detail
