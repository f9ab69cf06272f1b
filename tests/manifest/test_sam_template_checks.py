"""Resource attributes, DependsOn, condition names and their messages: what CloudFormation rejects is an error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from squall.manifest import load_service
from tests.manifest.conftest import WriteService
from tests.manifest.test_sam_functions import BASE, RESOURCES, load_error, template

EVENTS = "Resources.Fn.Properties.Events"
PARAMETERS = "Parameters:\n  Stage: {Type: String, Default: prod}\n"
CONDITIONS = (
    "Conditions:\n"
    "  IsProd: !Equals [!Ref Stage, prod]\n"
    "  NotProd: !Not [!Condition IsProd]\n"
)


def with_extra(resource: str = "", sections: str = "") -> str:
    """Build a template with `resource` after RESOURCES, the Stage parameter, two conditions and `sections`."""
    return PARAMETERS + template(BASE, resources=RESOURCES + resource) + CONDITIONS + sections


# DependsOn -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("depends_on", "key", "message"),
    [
        ("Bucket9", "Resources.Extra.DependsOn",
         '"Bucket9" is not a resource of this template, expected the logical id of a resource under Resources'),
        ("[Jobs, Jbos]", "Resources.Extra.DependsOn[1]",
         '"Jbos" is not a resource of this template (did you mean "Jobs"?), expected the logical id of a resource '
         "under Resources"),
        ("{Ref: Jobs}", "Resources.Extra.DependsOn",
         "expected a logical id, or a list of logical ids, of this template's Resources, got a mapping"),
    ],
)
def test_depends_on_unknown_resource_rejected(
    write_service: WriteService, depends_on: str, key: str, message: str
) -> None:
    resource = f"  Extra: {{Type: AWS::SQS::Queue, DependsOn: {depends_on}}}\n"

    error = load_error(write_service, with_extra(resource))

    assert error.key == key
    assert error.detail == message


def test_depends_on_declared_and_generated_accepted(write_service: WriteService) -> None:
    # FnRole is the role SAM generates for Fn, so a dependency on it resolves on AWS too.
    resource = (
        "  Extra: {Type: AWS::SQS::Queue, DependsOn: [Jobs, Fn, FnRole]}\n"
        "  Other: {Type: AWS::SQS::Queue, DependsOn: Extra}\n"
    )
    write_service(with_extra(resource), name="template.yaml")

    spec = load_service(Path("."))

    assert set(spec.functions) == {"Fn"}
    assert any(queue.name.endswith("-Other") for queue in spec.resources.queues)


# Condition names -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "sections", "key", "message"),
    [
        ("", "  Unused: !And [!Condition NotPrd, !Condition IsProd]\n",
         "Conditions.Unused.Fn::And[0].Condition",
         'expected a condition name from Conditions (IsProd, NotProd, Unused), got "NotPrd" (did you mean "NotProd"?)'),
        ("", "  Unused: !Not [!Condition IsPrd]\n",
         "Conditions.Unused.Fn::Not[0].Condition",
         'expected a condition name from Conditions (IsProd, NotProd, Unused), got "IsPrd" (did you mean "IsProd"?)'),
        ("", "  Unused: !Or [!Equals [a, b], !Condition Missing]\n",
         "Conditions.Unused.Fn::Or[1].Condition",
         'expected a condition name from Conditions (IsProd, NotProd, Unused), got "Missing"'),
        ("  Extra: {Type: AWS::SQS::Queue, Condition: IsPord}\n", "",
         "Resources.Extra.Condition",
         'expected a condition name from Conditions (IsProd, NotProd), got "IsPord" (did you mean "IsProd"?)'),
        ("  Topic: {Type: AWS::SNS::Topic, Properties: {TopicName: !If [NotPrd, a, b]}}\n", "",
         "Resources.Topic.Properties.TopicName.Fn::If[0]",
         'expected a condition name from Conditions (IsProd, NotProd), got "NotPrd" (did you mean "NotProd"?)'),
        ("", "Outputs:\n  Name: {Value: x, Condition: IsProdd}\n",
         "Outputs.Name.Condition",
         'expected a condition name from Conditions (IsProd, NotProd), got "IsProdd" (did you mean "IsProd"?)'),
    ],
)
def test_unknown_condition_rejected(
    write_service: WriteService, resource: str, sections: str, key: str, message: str
) -> None:
    error = load_error(write_service, with_extra(resource, sections))

    assert error.key == key
    assert error.detail == message


def test_unknown_condition_in_used_condition_listed_once(write_service: WriteService) -> None:
    sections = "  Broken: !Not [!Condition IsPrd]\n"
    resource = "  Extra: {Type: AWS::SQS::Queue, Condition: Broken}\n"

    error = load_error(write_service, with_extra(resource, sections))

    assert error.key == "Conditions.Broken.Fn::Not[0].Condition"
    assert str(error).count("IsPrd") == 1


# Resource attributes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "meant"),
    [("Metdata: {a: b}", "Metadata"), ("DependOn: Jobs", "DependsOn"), ("Propertys: {}", "Properties"),
     ("Conditon: IsProd", "Condition")],
)
def test_unknown_resource_attribute_rejected(write_service: WriteService, attribute: str, meant: str) -> None:
    resource = f"  Extra: {{Type: AWS::SQS::Queue, {attribute}}}\n"

    error = load_error(write_service, with_extra(resource))

    assert error.key == f"Resources.Extra.{attribute.split(':')[0]}"
    assert error.detail.startswith(f'unknown resource attribute (did you mean "{meant}"?), expected one of: ')
    assert "DeletionPolicy" in error.detail


def test_unknown_function_attribute_rejected(write_service: WriteService) -> None:
    function_type = "    Type: AWS::Serverless::Function\n"
    text = template(BASE).replace(function_type, function_type + "    Enviroment: {}\n")

    error = load_error(write_service, text)

    assert error.key == "Resources.Fn.Enviroment"
    assert error.detail.startswith("unknown resource attribute, expected one of: ")


def test_defined_resource_attributes_accepted(write_service: WriteService) -> None:
    attributes = (
        "Condition: IsProd, DependsOn: Jobs, Metadata: {Owner: team}, DeletionPolicy: RetainExceptOnCreate, "
        "UpdateReplacePolicy: Snapshot, CreationPolicy: {ResourceSignal: {Count: 1}}, "
        "UpdatePolicy: {AutoScalingReplacingUpdate: {WillReplace: true}}, Description: extra queue, Version: '1.0'"
    )
    resource = f"  Extra: {{Type: AWS::SQS::Queue, {attributes}}}\n"
    write_service(with_extra(resource), name="template.yaml")

    spec = load_service(Path("."))

    assert any(queue.name.endswith("-Extra") for queue in spec.resources.queues)
    assert "Resources.Extra.CreationPolicy: not supported by Squall yet, ignored" in spec.warnings
    assert not any(warning.startswith(("Resources.Extra.Metadata", "Resources.Extra.Description",
                                       "Resources.Extra.DeletionPolicy")) for warning in spec.warnings)


def test_sam_resource_attributes_warned(write_service: WriteService) -> None:
    text = template(BASE).replace(
        "    Type: AWS::Serverless::Function\n",
        "    Type: AWS::Serverless::Function\n    IgnoreGlobals: '*'\n"
        "    Connectors: {Write: {Properties: {Destination: {Id: Jobs}, Permissions: [Write]}}}\n",
    )
    write_service(text, name="template.yaml")

    warnings = load_service(Path(".")).warnings

    ignore_globals = "Resources.Fn.IgnoreGlobals: not supported by Squall, ignored: the Globals apply to this resource"
    assert ignore_globals in warnings
    assert "Resources.Fn.Connectors: ignored, because Squall checks no permissions" in warnings


# DeletionPolicy and UpdateReplacePolicy ----------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "key", "message"),
    [
        ("DeletionPolicy: Retian", "Resources.Extra.DeletionPolicy",
         'expected Delete, Retain, RetainExceptOnCreate or Snapshot, got "Retian" (did you mean "Retain"?)'),
        ("DeletionPolicy: retain", "Resources.Extra.DeletionPolicy",
         'expected Delete, Retain, RetainExceptOnCreate or Snapshot, got "retain" (did you mean "Retain"?)'),
        ("DeletionPolicy: true", "Resources.Extra.DeletionPolicy",
         "expected Delete, Retain, RetainExceptOnCreate or Snapshot, got true"),
        ("UpdateReplacePolicy: RetainExceptOnCreate", "Resources.Extra.UpdateReplacePolicy",
         'expected Delete, Retain or Snapshot, got "RetainExceptOnCreate"'),
        ("UpdateReplacePolicy: Snapshott", "Resources.Extra.UpdateReplacePolicy",
         'expected Delete, Retain or Snapshot, got "Snapshott" (did you mean "Snapshot"?)'),
        ("DeletionPolicy: !If [IsProd, Keep, Delete]", "Resources.Extra.DeletionPolicy",
         'expected Delete, Retain, RetainExceptOnCreate or Snapshot, got "Keep"'),
    ],
)
def test_unknown_policy_rejected(write_service: WriteService, attribute: str, key: str, message: str) -> None:
    resource = f"  Extra: {{Type: AWS::SQS::Queue, {attribute}}}\n"

    error = load_error(write_service, with_extra(resource))

    assert error.key == key
    assert error.detail == message


def test_policy_from_function_accepted(write_service: WriteService) -> None:
    # The AWS::LanguageExtensions transform allows a function that resolves to an option.
    resource = "  Extra: {Type: AWS::SQS::Queue, DeletionPolicy: !If [IsProd, Retain, Delete]}\n"
    write_service(with_extra(resource), name="template.yaml")

    spec = load_service(Path("."))

    assert any(queue.name.endswith("-Extra") for queue in spec.resources.queues)


def test_attribute_mistakes_listed_together(write_service: WriteService) -> None:
    resources = (
        "  Extra: {Type: AWS::SQS::Queue, DependsOn: Nothing, DeletionPolicy: Retian}\n"
        "  More: {Type: AWS::SQS::Queue, UpdateReplacePolicy: Keep}\n"
    )

    error = load_error(write_service, with_extra(resources))

    message = str(error)
    assert message.startswith("template.yaml: Resources.Extra.DependsOn: ")
    assert 'also Resources.Extra.DeletionPolicy: expected Delete' in message
    assert 'also Resources.More.UpdateReplacePolicy: expected Delete, Retain or Snapshot, got "Keep"' in message


# Messages ------------------------------------------------------------------------


def test_simple_table_stream_arn_rejected(write_service: WriteService) -> None:
    resources = RESOURCES + "  Users: {Type: AWS::Serverless::SimpleTable}\n"
    text = template(BASE + "Environment: {Variables: {STREAM: !GetAtt Users.StreamArn}}\n", resources=resources)

    error = load_error(write_service, text)

    assert error.key == "Resources.Fn.Properties.Environment.Variables.STREAM.Fn::GetAtt"
    assert error.detail == (
        "Users is an AWS::Serverless::SimpleTable, which has no stream on AWS either, so it has no StreamArn; "
        "declare it as an AWS::DynamoDB::Table with StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES} "
        "to read its changes"
    )
    assert "not supported by Squall" not in error.detail


def test_filter_pattern_mapping_rejected(write_service: WriteService) -> None:
    criteria = "FilterCriteria: {Filters: [{Pattern: {body: {kind: [order]}}}]}"
    event = "{Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn, " + criteria + "}}"

    error = load_error(write_service, template(BASE + "Events:\n  E: " + event + "\n"))

    assert error.key == f"{EVENTS}.E.Properties.FilterCriteria.Filters[0].Pattern"
    assert error.detail == (
        "expected JSON text, got a mapping; quote the pattern as a string, such as "
        """Pattern: '{"body": {"kind": ["order"]}}'"""
    )


def test_filter_pattern_hint_is_valid_yaml(write_service: WriteService) -> None:
    """The quoted text the message offers loads as the pattern the mapping meant."""
    def event(pattern: str) -> str:
        criteria = "FilterCriteria: {Filters: [{Pattern: " + pattern + "}]}"
        return "Events:\n  E: {Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn, " + criteria + "}}\n"

    error = load_error(write_service, template(BASE + event("{body: {name: [\"o'brien\"]}}")))
    suggested = error.detail.split("such as Pattern: ", 1)[1]
    write_service(template(BASE + event(suggested)), name="template.yaml")

    spec = load_service(Path("."))

    (trigger,) = spec.functions["Fn"].triggers
    assert [json.loads(pattern) for pattern in trigger.filter_patterns] == [{"body": {"name": ["o'brien"]}}]


# A realistic template ------------------------------------------------------------


def test_realistic_template_with_attributes_loads(write_service: WriteService) -> None:
    text = """\
        AWSTemplateFormatVersion: '2010-09-09'
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          Stage: {Type: String, Default: prod, AllowedValues: [dev, prod]}
        Conditions:
          IsProd: !Equals [!Ref Stage, prod]
          IsDev: !Not [!Condition IsProd]
          Always: !Or [!Condition IsProd, !Condition IsDev]
        Globals:
          Function:
            Runtime: python3.12
            Timeout: 10
        Resources:
          Orders:
            Type: AWS::SQS::Queue
            DeletionPolicy: Retain
            UpdateReplacePolicy: Retain
            Properties:
              VisibilityTimeout: 60
          Archive:
            Type: AWS::S3::Bucket
            Condition: IsProd
            DeletionPolicy: RetainExceptOnCreate
          Worker:
            Type: AWS::Serverless::Function
            DependsOn: [Orders]
            Metadata:
              BuildMethod: python3.12
            Properties:
              Handler: app.greet
              Environment:
                Variables:
                  ARCHIVE: !If [IsProd, !Ref Archive, !Ref AWS::NoValue]
              Events:
                Jobs:
                  Type: SQS
                  Properties:
                    Queue: !GetAtt Orders.Arn
                    FilterCriteria:
                      Filters:
                        - Pattern: '{"body": {"kind": ["order"]}}'
        Outputs:
          ArchiveName:
            Condition: IsProd
            Value: !Ref Archive
        """
    write_service(text, name="template.yaml")

    spec = load_service(Path("."))

    worker = spec.functions["Worker"]
    assert worker.environment["ARCHIVE"].endswith("-archive")
    assert len(worker.triggers) == 1
    assert not any("DependsOn" in warning or "Metadata" in warning or "Policy" in warning for warning in spec.warnings)
