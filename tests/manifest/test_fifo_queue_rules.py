"""Lambda's rules for FIFO queues, in every manifest format: batches of at most 10, no batching window, no destination."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import DeployError, ManifestError
from squall.events.resources import check_declared_queues, prepare_resources
from squall.manifest import load_service
from squall.manifest.spec import Destination, QueueResource, QueueTrigger, Resources, ServiceSpec
from squall.services.hub import ServiceHub
from tests.manifest.conftest import WriteService

NO_DESTINATION = "expected a standard queue, since a FIFO queue cannot be a destination, as on AWS"


def load_error(write_service: WriteService, manifest: str, name: str) -> ManifestError:
    write_service(manifest, name=name)
    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))
    return raised.value


# squall.yml


def squall_yml(queue_event: str = "{name: jobs.fifo}", function_keys: str = "") -> str:
    return f"""\
service: shop
resources:
  queues:
    jobs.fifo: {{}}
    failed.fifo: {{}}
functions:
  worker:
    handler: app.greet
{function_keys}    events:
      - queue: {queue_event}
"""


@pytest.mark.parametrize(
    ("event", "key", "message"),
    [
        (
            "{name: jobs.fifo, batch_size: 11, batch_window_s: 0}",
            "functions.worker.events[0].queue.batch_size",
            'expected a batch size between 1 and 10, the maximum Lambda allows for FIFO queue "jobs.fifo", got 11',
        ),
        (
            "{name: jobs.fifo, batch_window_s: 2}",
            "functions.worker.events[0].queue.batch_window_s",
            'expected no batching window (0 seconds), since Lambda supports none for FIFO queue "jobs.fifo", got 2',
        ),
        (
            # A queue the manifest does not declare is FIFO by its name, as in SQS.
            "{name: elsewhere.fifo, batch_size: 20, batch_window_s: 0}",
            "functions.worker.events[0].queue.batch_size",
            'the maximum Lambda allows for FIFO queue "elsewhere.fifo", got 20',
        ),
    ],
)
def test_squall_yml_fifo_batch_rejected(write_service: WriteService, event: str, key: str, message: str) -> None:
    error = load_error(write_service, squall_yml(event), "squall.yml")

    assert error.key == key
    assert message in str(error)


def test_squall_yml_fifo_batch_and_window_together(write_service: WriteService) -> None:
    error = load_error(write_service, squall_yml("{name: jobs.fifo, batch_size: 50, batch_window_s: 5}"), "squall.yml")

    assert error.key == "functions.worker.events[0].queue.batch_size"
    assert "got 50" in str(error)
    assert "\n  also functions.worker.events[0].queue.batch_window_s: expected no batching window" in str(error)
    # The advice for standard queues, a batching window of 1 second or more, would be wrong here.
    assert "at least 1 second" not in str(error)


def test_squall_yml_fifo_batch_of_ten_accepted(write_service: WriteService) -> None:
    write_service(squall_yml("{name: jobs.fifo, batch_size: 10}"))

    worker = load_service(Path(".")).functions["worker"]

    assert worker.triggers == (QueueTrigger(queue="jobs.fifo", batch_size=10),)


def test_squall_yml_standard_queue_large_batch(write_service: WriteService) -> None:
    write_service(squall_yml("{name: jobs, batch_size: 500, batch_window_s: 2}"))

    worker = load_service(Path(".")).functions["worker"]

    assert worker.triggers == (QueueTrigger(queue="jobs", batch_size=500, batch_window_s=2.0),)


@pytest.mark.parametrize("outcome", ["on_failure", "on_success"])
def test_squall_yml_fifo_destination_rejected(write_service: WriteService, outcome: str) -> None:
    error = load_error(write_service, squall_yml(function_keys=f"    {outcome}: {{queue: failed.fifo}}\n"), "squall.yml")

    assert error.key == f"functions.worker.{outcome}.queue"
    assert error.detail == f'{NO_DESTINATION}, got "failed.fifo"'


def test_squall_yml_standard_destination_accepted(write_service: WriteService) -> None:
    write_service(squall_yml(function_keys="    on_failure: {queue: failed}\n"))

    worker = load_service(Path(".")).functions["worker"]

    assert worker.async_config.on_failure == Destination("queue", "failed")


# SAM templates

SAM_HEAD = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Jobs: {Type: AWS::SQS::Queue, Properties: {QueueName: jobs.fifo, FifoQueue: true}}
  Failed: {Type: AWS::SQS::Queue, Properties: {QueueName: failed.fifo, FifoQueue: true}}
  Clicks: {Type: AWS::Kinesis::Stream, Properties: {Name: clicks}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.greet
      Runtime: python3.12
"""
SAM_EVENT = "Resources.Fn.Properties.Events.Q.Properties"


def sam_template(properties: str) -> str:
    return SAM_HEAD + "".join(f"      {line}\n" for line in properties.splitlines())


@pytest.mark.parametrize(
    ("queue", "settings", "key", "message"),
    [
        ("!GetAtt Jobs.Arn", "BatchSize: 11", f"{SAM_EVENT}.BatchSize",
         'expected a batch size between 1 and 10, the maximum Lambda allows for FIFO queue "jobs.fifo", got 11'),
        ("!GetAtt Jobs.Arn", "MaximumBatchingWindowInSeconds: 3", f"{SAM_EVENT}.MaximumBatchingWindowInSeconds",
         'expected no batching window (0 seconds), since Lambda supports none for FIFO queue "jobs.fifo", got 3'),
        ("arn:aws:sqs:us-east-1:000000000000:outside.fifo", "BatchSize: 100, MaximumBatchingWindowInSeconds: 0",
         f"{SAM_EVENT}.BatchSize", 'for FIFO queue "outside.fifo", got 100'),
    ],
)
def test_sam_fifo_batch_rejected(write_service: WriteService, queue: str, settings: str, key: str, message: str) -> None:
    events = f"Events:\n  Q: {{Type: SQS, Properties: {{Queue: {queue}, {settings}}}}}"

    error = load_error(write_service, sam_template(events), "template.yaml")

    assert error.key == key
    assert message in str(error)


@pytest.mark.parametrize(
    ("properties", "key"),
    [
        (
            "EventInvokeConfig:\n  DestinationConfig:\n    OnSuccess: {Type: SQS, Destination: !GetAtt Failed.Arn}",
            "Resources.Fn.Properties.EventInvokeConfig.DestinationConfig.OnSuccess.Destination",
        ),
        (
            "EventInvokeConfig:\n  DestinationConfig:\n    OnFailure: {Destination: !GetAtt Failed.Arn}",
            "Resources.Fn.Properties.EventInvokeConfig.DestinationConfig.OnFailure.Destination",
        ),
        (
            "DeadLetterQueue: {Type: SQS, TargetArn: !GetAtt Failed.Arn}",
            "Resources.Fn.Properties.DeadLetterQueue.TargetArn",
        ),
        (
            "Events:\n  K:\n    Type: Kinesis\n    Properties:\n      Stream: !GetAtt Clicks.Arn\n"
            "      StartingPosition: LATEST\n"
            "      DestinationConfig: {OnFailure: {Type: SQS, Destination: !GetAtt Failed.Arn}}",
            "Resources.Fn.Properties.Events.K.Properties.DestinationConfig.OnFailure.Destination",
        ),
    ],
)
def test_sam_fifo_destination_rejected(write_service: WriteService, properties: str, key: str) -> None:
    error = load_error(write_service, sam_template(properties), "template.yaml")

    assert error.key == key
    assert error.detail == f'{NO_DESTINATION}, got "failed.fifo"'


# serverless.yml

SERVERLESS = """\
service: shop
provider: {{name: aws, runtime: python3.12}}
functions:
  worker:
    handler: app.greet
{function_keys}    events:
      - sqs: {sqs}
resources:
  Resources:
    Jobs: {{Type: AWS::SQS::Queue, Properties: {{QueueName: jobs.fifo, FifoQueue: true, VisibilityTimeout: 30}}}}
    Failed: {{Type: AWS::SQS::Queue, Properties: {{QueueName: failed.fifo, FifoQueue: true}}}}
"""
SQS_EVENT = '{arn: {"Fn::GetAtt": [Jobs, Arn]}, batchSize: 10}'


@pytest.mark.parametrize(
    ("sqs", "function_keys", "key", "detail"),
    [
        (
            '{arn: {"Fn::GetAtt": [Jobs, Arn]}, batchSize: 20}',
            "",
            "functions.worker.events[0].sqs.batchSize",
            'expected a batch size between 1 and 10, the maximum Lambda allows for FIFO queue "jobs.fifo", got 20',
        ),
        (
            '{arn: {"Fn::GetAtt": [Jobs, Arn]}, maximumBatchingWindow: 4}',
            "",
            "functions.worker.events[0].sqs.maximumBatchingWindow",
            'expected no batching window (0 seconds), since Lambda supports none for FIFO queue "jobs.fifo", got 4',
        ),
        (
            SQS_EVENT,
            '    destinations: {onSuccess: {type: sqs, arn: {"Fn::GetAtt": [Failed, Arn]}}}\n',
            "functions.worker.destinations.onSuccess",
            f'{NO_DESTINATION}, got "failed.fifo"',
        ),
        (
            SQS_EVENT,
            "    destinations: {onFailure: 'arn:aws:sqs:us-east-1:000000000000:outside.fifo'}\n",
            "functions.worker.destinations.onFailure",
            f'{NO_DESTINATION}, got "outside.fifo"',
        ),
        (
            SQS_EVENT,
            '    onError: {"Fn::GetAtt": [Failed, Arn]}\n',
            "functions.worker.onError",
            f'{NO_DESTINATION}, got "failed.fifo"',
        ),
    ],
)
def test_serverless_fifo_mistake_rejected(
    write_service: WriteService, sqs: str, function_keys: str, key: str, detail: str
) -> None:
    write_service(SERVERLESS.format(sqs=sqs, function_keys=function_keys), name="serverless.yml")

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.key == key
    assert raised.value.detail == detail


def test_serverless_fifo_batch_of_ten_deploys(write_service: WriteService, tmp_path: Path) -> None:
    write_service(SERVERLESS.format(sqs=SQS_EVENT, function_keys=""), name="serverless.yml")
    service = load_service(Path("."))
    hub = ServiceHub(tmp_path / "services")

    try:
        creations = prepare_resources(hub, service)
    finally:
        hub.close()

    assert len(creations) == 2  # the two queues


def test_mismatched_dead_letter_queue_rejected(write_service: WriteService) -> None:
    manifest = (
        "service: q\n"
        "resources:\n  queues:\n    jobs.fifo: {dead_letter: {queue: std, max_receive_count: 2}}\n    std: {}\n"
        "functions:\n  w:\n    handler: app.greet\n    events:\n      - queue: {name: jobs.fifo}\n"
    )

    # SQS requires a FIFO queue's dead-letter queue to be FIFO too, so reading the manifest fails.
    error = load_error(write_service, manifest, "squall.yml")

    assert error.key == "resources.queues.jobs.fifo.dead_letter.queue"
    assert error.detail == (
        'expected a FIFO queue like "jobs.fifo", since SQS requires a dead-letter queue of the queue\'s own type, '
        'got "std"'
    )


def test_plan_check_rejects_mismatched_dead_letter_queue(tmp_path: Path) -> None:
    queues = (QueueResource("jobs.fifo", dead_letter_queue="std"), QueueResource("std"))
    service = ServiceSpec("q", tmp_path, tmp_path / "squall.yml", {}, resources=Resources(queues=queues))

    # A specification that no manifest reader checked; `squall plan` runs this check.
    with pytest.raises(DeployError) as raised:
        check_declared_queues(service)

    assert str(raised.value) == "squall.yml: resources.queues.jobs.fifo.dead_letter.queue: 'std' must be a FIFO queue like 'jobs.fifo'"
