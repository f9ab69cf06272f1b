"""serverless.yml: numeric settings written as strings, as the Framework's schema coerces them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.manifest import load_service
from squall.manifest.spec import QueueTrigger, TableStreamTrigger
from tests.manifest.conftest import WriteService

RESOURCES = """
resources:
  Resources:
    Jobs:
      Type: AWS::SQS::Queue
      Properties: {VisibilityTimeout: '60'}
    Items:
      Type: AWS::DynamoDB::Table
      Properties:
        KeySchema: [{AttributeName: id, KeyType: HASH}]
        AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
        StreamSpecification: {StreamViewType: NEW_IMAGE}
"""


def _service(provider: str = "", function: str = "") -> str:
    return (
        "service: shop\n"
        "provider:\n  name: aws\n  runtime: python3.12\n" + textwrap.indent(textwrap.dedent(provider), "  ")
        + "functions:\n  hello:\n    handler: app.greet\n" + textwrap.indent(textwrap.dedent(function), "    ")
        + RESOURCES
    )


def test_provider_numbers_from_strings(write_service: WriteService, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLS_MEM", "256")
    write_service(_service("memorySize: ${env:SLS_MEM, 128}\ntimeout: '6'\n"), name="serverless.yml")

    hello = load_service(Path(".")).functions["hello"]

    assert hello.memory_mb == 256
    assert hello.timeout_s == 6


def test_function_numbers_from_strings(write_service: WriteService) -> None:
    function = """\
        memorySize: '512'
        timeout: ' 30 '
        reservedConcurrency: '5'
        provisionedConcurrency: '2'
        maximumRetryAttempts: '1'
        maximumEventAge: '3600'
        events:
          - sqs: {arn: !GetAtt Jobs.Arn, batchSize: '20', maximumBatchingWindow: '2', maximumConcurrency: '4'}
          - stream: {arn: !GetAtt Items.StreamArn, batchSize: '100', maximumRetryAttempts: '-1', batchWindow: '5'}
    """
    write_service(_service(function=function), name="serverless.yml")

    hello = load_service(Path(".")).functions["hello"]

    assert (hello.memory_mb, hello.timeout_s) == (512, 30)
    assert (hello.reserved_concurrency, hello.provisioned) == (5, 2)
    assert (hello.async_config.max_retry_attempts, hello.async_config.max_event_age_s) == (1, 3600)
    queue, stream = hello.triggers
    assert isinstance(queue, QueueTrigger)
    assert (queue.batch_size, queue.batch_window_s, queue.max_concurrency) == (20, 2, 4)
    assert isinstance(stream, TableStreamTrigger)
    assert (stream.batch_size, stream.max_retries, stream.batch_window_s) == (100, -1, 5)


@pytest.mark.parametrize(
    ("provider", "function", "message"),
    [
        pytest.param(
            "memorySize: lots\n", "",
            'provider.memorySize: expected whole megabytes between 128 and 10240, got "lots"',
            id="word",
        ),
        pytest.param(
            "", "timeout: '6.5'\n",
            'functions.hello.timeout: expected whole seconds between 1 and 900, got "6.5"',
            id="fraction",
        ),
        pytest.param(
            "", "memorySize: '64'\n",
            'functions.hello.memorySize: expected whole megabytes between 128 and 10240, got "64"',
            id="below the range",
        ),
        pytest.param(
            "timeout: ''\n", "",
            'provider.timeout: expected whole seconds between 1 and 900, got ""',
            id="empty",
        ),
        pytest.param(
            "", "reservedConcurrency: '0x10'\n",
            'functions.hello.reservedConcurrency: expected a whole number of instances, 0 or more, got "0x10"',
            id="hexadecimal text",
        ),
    ],
)
def test_non_numeric_string_rejected(write_service: WriteService, provider: str, function: str, message: str) -> None:
    write_service(_service(provider, function), name="serverless.yml")

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert str(raised.value) == f"serverless.yml: {message}"
