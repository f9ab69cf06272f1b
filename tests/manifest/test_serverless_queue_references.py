"""serverless.yml: Ref and Fn::GetAtt of a declared queue, in variables and where a queue is not expected."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.manifest import load_service
from tests.manifest.conftest import WriteService

RESOURCES = """
resources:
  Resources:
    JobsQueue:
      Type: AWS::SQS::Queue
      Properties: {QueueName: jobs}
    Unnamed:
      Type: AWS::SQS::Queue
"""


def _service(environment: str, events: str = "", extra: str = "") -> str:
    body = (
        "service: shop\n"
        "provider:\n  name: aws\n  runtime: python3.12\n  environment:\n"
        + textwrap.indent(textwrap.dedent(environment), "    ")
        + "functions:\n  hello:\n    handler: app.greet\n"
        + textwrap.indent(textwrap.dedent(events), "    ")
    )
    return body + extra + RESOURCES


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("{Ref: JobsQueue}", "jobs", id="Ref long form"),
        pytest.param("!Ref JobsQueue", "jobs", id="Ref short form"),
        pytest.param("!Ref Unnamed", "shop-dev-Unnamed", id="Ref of an unnamed queue"),
        pytest.param("{'Fn::GetAtt': [JobsQueue, QueueUrl]}", "jobs", id="QueueUrl"),
        pytest.param("!GetAtt JobsQueue.QueueName", "jobs", id="QueueName"),
        pytest.param("!GetAtt JobsQueue.Arn", "arn:aws:sqs:us-east-1:000000000000:jobs", id="Arn"),
        pytest.param("!Sub '${JobsQueue}-and-${Unnamed.QueueName}'", "jobs-and-shop-dev-Unnamed", id="Sub"),
    ],
)
def test_queue_reference_sets_variable(write_service: WriteService, value: str, expected: str) -> None:
    write_service(_service(f"QUEUE: {value}\n"), name="serverless.yml")

    spec = load_service(Path("."))

    assert spec.functions["hello"].environment["QUEUE"] == expected
    assert spec.warnings == ()


def test_queue_reference_matches_sam(write_service: WriteService) -> None:
    """Both formats give a function the same value for Ref, QueueUrl, QueueName and Arn of a queue."""
    names = {"REF": "!Ref JobsQueue", "URL": "!GetAtt JobsQueue.QueueUrl", "NAME": "!GetAtt JobsQueue.QueueName",
             "ARN": "!GetAtt JobsQueue.Arn"}
    environment = "".join(f"{name}: {value}\n" for name, value in names.items())
    write_service(_service(environment), name="serverless.yml")
    serverless = load_service(Path(".")).functions["hello"].environment
    Path("serverless.yml").unlink()
    sam_variables = "".join(f"          {name}: {value}\n" for name, value in names.items())
    write_service(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  JobsQueue: {Type: AWS::SQS::Queue, Properties: {QueueName: jobs}}\n"
        "  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      Handler: app.greet\n      Runtime: python3.12\n"
        "      Environment:\n        Variables:\n" + sam_variables,
        name="template.yaml",
    )
    sam = load_service(Path(".")).functions["Fn"].environment

    assert {name: serverless[name] for name in names} == {name: sam[name] for name in names}
    assert serverless["REF"] == "jobs"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param(
            "!GetAtt JobsQueue.RedrivePolicy",
            "JobsQueue is an AWS::SQS::Queue, and Squall evaluates its attributes Arn, QueueName, QueueUrl, "
            "not RedrivePolicy",
            id="unknown attribute",
        ),
        pytest.param(
            "!Ref ServerlessDeploymentBucket",
            "ServerlessDeploymentBucket is neither a queue, bucket, table or stream under resources.Resources "
            "nor a pseudo parameter such as AWS::Region",
            id="undeclared resource",
        ),
        pytest.param(
            "!ImportValue shared-queue-url",
            "Squall evaluates only Ref, Fn::GetAtt, Fn::Sub and Fn::Join of the queues, buckets, tables and "
            "streams under resources.Resources and of pseudo parameters",
            id="other function",
        ),
    ],
)
def test_unevaluated_reference_warning_names_reason(write_service: WriteService, value: str, reason: str) -> None:
    write_service(_service(f"QUEUE: {value}\nPLAIN: kept\n"), name="serverless.yml")

    spec = load_service(Path("."))

    assert spec.functions["hello"].environment == {"PLAIN": "kept"}
    assert len(spec.warnings) == 1
    assert spec.warnings[0].startswith("provider.environment.QUEUE: Squall cannot evaluate ")
    assert spec.warnings[0].endswith(f", so the variable is not set: {reason}")


def test_queue_ref_is_no_function_destination(write_service: WriteService) -> None:
    events = "destinations:\n  onFailure: !Ref JobsQueue\n"
    write_service(_service("PLAIN: kept\n", events), name="serverless.yml")

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.key == "functions.hello.destinations.onFailure"
    assert raised.value.detail.endswith('got "Ref JobsQueue"')


def test_queue_ref_is_no_bucket(write_service: WriteService) -> None:
    events = "events:\n  - s3: !Ref JobsQueue\n"
    write_service(_service("PLAIN: kept\n", events), name="serverless.yml")

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.key == "functions.hello.events[0].s3"
    assert raised.value.detail.endswith('got "Ref JobsQueue"')


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("!GetAtt JobsQueue.Arn", "jobs", id="GetAtt Arn"),
        pytest.param("'arn:aws:sqs:us-east-1:000000000000:outside'", "outside", id="literal ARN"),
    ],
)
def test_on_error_sets_dead_letter_queue(write_service: WriteService, value: str, expected: str) -> None:
    events = f"onError: {value}\ndestinations:\n  onFailure: !GetAtt JobsQueue.Arn\n"
    write_service(_service("PLAIN: kept\n", events), name="serverless.yml")

    spec = load_service(Path("."))

    config = spec.functions["hello"].async_config
    assert config.dead_letter_queue == expected
    assert config.on_failure is not None
    assert config.on_failure.name == "jobs"
    assert spec.warnings == ()


def test_on_error_sns_topic_warned(write_service: WriteService) -> None:
    events = "onError: 'arn:aws:sns:us-east-1:000000000000:alerts'\n"
    write_service(_service("PLAIN: kept\n", events), name="serverless.yml")

    spec = load_service(Path("."))

    assert spec.functions["hello"].async_config.dead_letter_queue is None
    assert spec.warnings == (
        "functions.hello.onError: SNS topics are not supported by Squall as dead-letter queues yet, ignored",
    )


@pytest.mark.parametrize(
    ("value", "got"),
    [
        pytest.param("!Ref JobsQueue", 'got "Ref JobsQueue"', id="Ref gives no ARN"),
        pytest.param("hello", 'got "hello"', id="function name"),
        pytest.param("'arn:aws:lambda:us-east-1:000000000000:function:other'", "function:other", id="function ARN"),
    ],
)
def test_on_error_needs_queue_arn(write_service: WriteService, value: str, got: str) -> None:
    write_service(_service("PLAIN: kept\n", f"onError: {value}\n"), name="serverless.yml")

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.key == "functions.hello.onError"
    assert raised.value.detail.startswith("expected an SQS queue ARN")
    assert got in raised.value.detail
