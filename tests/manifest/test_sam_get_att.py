"""Fn::GetAtt of an attribute that the resource's type does not have is an error, as CloudFormation rejects it."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.manifest import load_service
from tests.manifest.conftest import WriteService
from tests.manifest.test_sam_intrinsics import write_template

VARIABLE_KEY = "Resources.Fn.Properties.Environment.Variables.VALUE"
BUCKET_ATTRIBUTES = (
    "Arn, DomainName, DualStackDomainName, RegionalDomainName, WebsiteURL, "
    "MetadataTableConfiguration.S3TablesDestination.TableArn, "
    "MetadataTableConfiguration.S3TablesDestination.TableNamespace"
)


@pytest.mark.parametrize(
    ("expression", "key", "message"),
    [
        (
            "!GetAtt Files.Nope",
            f"{VARIABLE_KEY}.Fn::GetAtt",
            f'"Nope" is not an attribute of Files (AWS::S3::Bucket), expected one of: {BUCKET_ATTRIBUTES}',
        ),
        (
            '{"Fn::GetAtt": [Jobs, Url]}',
            f"{VARIABLE_KEY}.Fn::GetAtt",
            '"Url" is not an attribute of Jobs (AWS::SQS::Queue), expected one of: Arn, QueueName, QueueUrl',
        ),
        (
            '!Sub "${Orders.Stream}"',
            f"{VARIABLE_KEY}.Fn::Sub",
            '"Stream" is not an attribute of Orders (AWS::DynamoDB::Table), expected one of: Arn, StreamArn',
        ),
        (
            "!GetAtt Fn.FunctionName",
            f"{VARIABLE_KEY}.Fn::GetAtt",
            '"FunctionName" is not an attribute of Fn (AWS::Serverless::Function), expected one of: Arn, '
            "SnapStartResponse, SnapStartResponse.ApplyOn, SnapStartResponse.OptimizationStatus",
        ),
        # Squall does not create topics, but it checks their attributes.
        (
            "!GetAtt Alerts.Arn",
            f"{VARIABLE_KEY}.Fn::GetAtt",
            '"Arn" is not an attribute of Alerts (AWS::SNS::Topic), expected one of: TopicArn, TopicName',
        ),
    ],
)
def test_unknown_attribute_is_error(write_service: WriteService, expression: str, key: str, message: str) -> None:
    write_template(write_service, expression)

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.path == "template.yaml"
    assert raised.value.key == key
    assert raised.value.detail == message


@pytest.mark.parametrize(
    ("expression", "warning"),
    [
        # Valid attributes whose values Squall does not have stay warnings, and the variable is left out.
        ("!GetAtt Files.WebsiteURL", 'attribute "WebsiteURL" of Files (AWS::S3::Bucket) is not supported by Squall'),
        (
            "!GetAtt Alerts.TopicArn",
            "Fn::GetAtt of Alerts (AWS::SNS::Topic) is not supported: Squall does not create AWS::SNS::Topic resources",
        ),
    ],
)
def test_unresolved_valid_attribute_warns(write_service: WriteService, expression: str, warning: str) -> None:
    spec = load_service(write_template(write_service, expression))

    assert spec.functions["Fn"].environment == {}
    assert any(line.startswith(f"{VARIABLE_KEY}: not set: {warning}") for line in spec.warnings), spec.warnings


def test_layer_version_arn_resolves(write_service: WriteService) -> None:
    folder = write_template(write_service, "!GetAtt Shared.LayerVersionArn")
    template = folder / "template.yaml"
    template.write_text(
        template.read_text().replace(
            "  Fn:\n", "  Shared:\n    Type: AWS::Serverless::LayerVersion\n    Properties: {ContentUri: layer/}\n  Fn:\n"
        )
    )
    (folder / "layer" / "python").mkdir(parents=True)

    spec = load_service(folder)

    assert spec.functions["Fn"].environment == {"VALUE": "arn:aws:lambda:us-east-1:000000000000:layer:demo-Shared:1"}
