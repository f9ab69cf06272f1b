"""References to names a template does not declare are errors wherever they are, as CloudFormation rejects them."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.manifest import load_service
from tests.manifest.conftest import WriteService
from tests.manifest.test_sam_functions import BASE, load_error, template


@pytest.mark.parametrize(
    ("extra", "properties", "key", "message"),
    [
        ("Outputs:\n  Url: {Value: !Ref NoSuchThing}\n", BASE, "Outputs.Url.Value.Ref",
         '"NoSuchThing" is not a parameter, resource or pseudo parameter of this template'),
        ("Outputs:\n  Role: {Value: !GetAtt FnRole.RoleArn}\n", BASE, "Outputs.Role.Value.Fn::GetAtt",
         '"RoleArn" is not an attribute of FnRole (AWS::IAM::Role), expected one of: Arn, RoleId'),
        ("Outputs:\n  Url: {Value: !Sub 'https://${ServerlessHttpApi}/${Missing.Arn}'}\n", BASE,
         "Outputs.Url.Value.Fn::Sub", '"Missing" is not a parameter, resource'),
        ("", BASE + "Policies:\n  - SQSSendMessagePolicy: {QueueName: !GetAtt Job.QueueName}\n",
         "Resources.Fn.Properties.Policies[0].SQSSendMessagePolicy.QueueName.Fn::GetAtt",
         '"Job" is not a parameter, resource or pseudo parameter of this template (did you mean "Jobs"?)'),
    ],
)
def test_unresolved_reference_rejected(
    write_service: WriteService, extra: str, properties: str, key: str, message: str
) -> None:
    text = template(properties) + extra
    if "ServerlessHttpApi" in extra:
        text = template(properties + "Events:\n  H: {Type: HttpApi}\n") + extra

    error = load_error(write_service, text)

    assert error.key == key
    assert message in error.detail


def test_reference_in_ignored_resource_rejected(write_service: WriteService) -> None:
    resources = "  Topic: {Type: AWS::SNS::Topic, Properties: {TopicName: !Ref TopicNme}}\n"
    text = template(BASE, resources=resources).replace("Resources:\n", "Parameters:\n  TopicName: {Type: String, "
                                                       "Default: t}\nResources:\n", 1)

    error = load_error(write_service, text)

    assert error.key == "Resources.Topic.Properties.TopicName.Ref"
    assert 'did you mean "TopicName"?' in error.detail


def test_resolved_references_in_outputs_accepted(write_service: WriteService) -> None:
    outputs = (
        "Outputs:\n"
        "  Queue: {Value: !GetAtt Jobs.Arn}\n"
        "  Role: {Value: !GetAtt FnRole.Arn}\n"
        "  Region: {Value: !Sub '${AWS::Region}-${Fn}-${Files.Arn}'}\n"
        "  Topic: {Value: !GetAtt Topic.TopicArn}\n"
    )
    resources = "  Jobs: {Type: AWS::SQS::Queue}\n  Files: {Type: AWS::S3::Bucket}\n  Topic: {Type: AWS::SNS::Topic}\n"
    write_service(template(BASE, resources=resources) + outputs, name="template.yaml")

    spec = load_service(Path("."))

    assert set(spec.functions) == {"Fn"}


def test_bad_reference_listed_once(write_service: WriteService) -> None:
    error = load_error(write_service, template(BASE + "Environment: {Variables: {Q: !Ref Nothing}}\n"))

    assert str(error).count("Nothing") == 1
