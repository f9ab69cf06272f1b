"""serverless.yml services in the shape of the Serverless Framework's examples, translated field by field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.manifest import load_service
from squall.manifest.spec import (
    AsyncConfig,
    BucketResource,
    Destination,
    ObjectTrigger,
    QueueResource,
    QueueTrigger,
    ScheduleTrigger,
    ServiceSpec,
    StreamResource,
    StreamTrigger,
    TableResource,
    TableStreamTrigger,
)

WriteService = Callable[..., Path]


def _load(write_service: WriteService, manifest: str) -> ServiceSpec:
    write_service(manifest, name="serverless.yml", modules=("handler.py",))
    return load_service(Path("."))


UNSUPPORTED_PREFIX = "not supported by Squall yet, ignored: "


def _warning_keys(spec: ServiceSpec) -> list[str]:
    """Return the key each warning names, and each key of the one warning that lists the keys Squall does not support."""
    keys: list[str] = []
    for warning in spec.warnings:
        if warning.startswith(UNSUPPORTED_PREFIX):
            keys += [name.split(" (", 1)[0] for name in warning.removeprefix(UNSUPPORTED_PREFIX).split(", ")]
        else:
            keys.append(warning.split(": ", 1)[0])
    return keys


SQS_WORKER = """
service: sqs-worker
frameworkVersion: "3"
provider:
  name: aws
  runtime: python3.12
  timeout: 20
functions:
  worker:
    handler: handler.greet
    reservedConcurrency: 4
    events:
      - sqs:
          arn: !GetAtt JobsQueue.Arn
          batchSize: 5
          maximumBatchingWindow: 2
          maximumConcurrency: 3
          functionResponseType: ReportBatchItemFailures
      - sqs: arn:aws:sqs:us-east-1:123456789012:legacy-jobs
  producer:
    handler: handler.greet
    environment:
      QUEUE_NAME: {"Fn::GetAtt": [JobsQueue, QueueName]}
    events:
      - httpApi: POST /jobs
resources:
  Resources:
    JobsQueue:
      Type: AWS::SQS::Queue
      Properties:
        QueueName: ${self:service}-${sls:stage}-jobs
        VisibilityTimeout: 120
        MessageRetentionPeriod: "86400"
        ReceiveMessageWaitTimeSeconds: 20
        RedrivePolicy:
          deadLetterTargetArn: {"Fn::GetAtt": [JobsDeadLetterQueue, Arn]}
          maxReceiveCount: 3
    JobsDeadLetterQueue:
      Type: AWS::SQS::Queue
      Properties:
        MessageRetentionPeriod: 1209600
"""


def test_sqs_worker_with_dead_letter_queue(write_service: WriteService) -> None:
    spec = _load(write_service, SQS_WORKER)

    worker = spec.functions["worker"]
    assert worker.timeout_s == 20
    assert worker.reserved_concurrency == 4
    assert worker.triggers == (
        QueueTrigger(queue="sqs-worker-dev-jobs", batch_size=5, batch_window_s=2, max_concurrency=3),
        # Only the first event turns on functionResponseType.
        QueueTrigger(queue="legacy-jobs", report_batch_item_failures=False),
    )
    assert spec.functions["producer"].environment == {"QUEUE_NAME": "sqs-worker-dev-jobs"}
    assert spec.resources.queues == (
        QueueResource(
            name="sqs-worker-dev-jobs",
            visibility_timeout_s=120,
            retention_s=86400,
            receive_wait_s=20,
            dead_letter_queue="sqs-worker-dev-JobsDeadLetterQueue",
            max_receive_count=3,
        ),
        QueueResource(name="sqs-worker-dev-JobsDeadLetterQueue", retention_s=1_209_600),
    )
    assert _warning_keys(spec) == []


THUMBNAILS = """
service: thumbnails
provider:
  name: aws
  runtime: python3.12
  stage: prod
  s3:
    originals:
      name: thumbnails-${sls:stage}-originals
functions:
  resize:
    handler: handler.greet
    memorySize: 2048
    events:
      - s3:
          bucket: originals
          event: s3:ObjectCreated:*
          rules:
            - prefix: uploads/
            - suffix: .jpg
      - s3:
          bucket: ${self:custom.archive}
          event: s3:ObjectRemoved:Delete
          existing: true
  audit:
    handler: handler.greet
    environment:
      OUTPUT_BUCKET: !Ref Thumbnails
    events:
      - s3: thumbnails-audit-log
custom:
  archive: legacy-archive
resources:
  Resources:
    Thumbnails:
      Type: AWS::S3::Bucket
"""


def test_s3_thumbnail_function_with_rules(write_service: WriteService) -> None:
    spec = _load(write_service, THUMBNAILS)

    resize = spec.functions["resize"]
    assert resize.memory_mb == 2048
    assert resize.triggers == (
        ObjectTrigger(bucket="thumbnails-prod-originals", events=("created",), prefix="uploads/", suffix=".jpg"),
        ObjectTrigger(bucket="legacy-archive", events=("removed",)),
    )
    assert spec.functions["audit"].triggers == (ObjectTrigger(bucket="thumbnails-audit-log", events=("created",)),)
    # An unnamed bucket is named after the stack and its logical id, in lowercase.
    assert spec.functions["audit"].environment == {"OUTPUT_BUCKET": "thumbnails-prod-thumbnails"}
    # Buckets of s3 events are created unless marked existing.
    assert spec.resources.buckets == (
        BucketResource("thumbnails-prod-thumbnails"),
        BucketResource("thumbnails-prod-originals"),
        BucketResource("thumbnails-audit-log"),
    )
    assert _warning_keys(spec) == ["functions.resize.events[1].s3.event"]
    assert "every removal invokes the function" in spec.warnings[0]


CRON_JOB = """
service: nightly-report
provider:
  name: aws
  runtime: python3.12
functions:
  report:
    handler: handler.greet
    maximumRetryAttempts: 1
    maximumEventAge: 3600
    destinations:
      onSuccess: notify
      onFailure: arn:aws:sqs:us-east-1:000000000000:report-failures
    events:
      - schedule:
          rate:
            - cron(0 6 ? * MON-FRI *)
            - cron(0 9 ? * SAT,SUN *)
          input:
            report: daily
            recipients: [ops]
      - schedule: rate(1 hour)
      - schedule:
          rate: rate(10 minutes)
          enabled: false
          input: '{"probe": true}'
      - eventBridge:
          schedule: cron(30 2 * * ? *)
          input: {source: eventbridge}
  notify:
    handler: handler.greet
"""


def test_scheduled_cron_job_with_input(write_service: WriteService) -> None:
    spec = _load(write_service, CRON_JOB)

    report = spec.functions["report"]
    daily = {"report": "daily", "recipients": ["ops"]}
    assert report.triggers == (
        ScheduleTrigger(expression="cron(0 6 ? * MON-FRI *)", input=daily),
        ScheduleTrigger(expression="cron(0 9 ? * SAT,SUN *)", input=daily),
        ScheduleTrigger(expression="rate(1 hour)"),
        ScheduleTrigger(expression="rate(10 minutes)", input={"probe": True}, enabled=False),
        ScheduleTrigger(expression="cron(30 2 * * ? *)", input={"source": "eventbridge"}),
    )
    assert report.async_config == AsyncConfig(
        max_retry_attempts=1,
        max_event_age_s=3600,
        on_success=Destination("function", "notify"),
        on_failure=Destination("queue", "report-failures"),
    )
    assert spec.functions["notify"].async_config == AsyncConfig()
    assert spec.warnings == ()


DYNAMODB_STREAM = """
service: orders-stream
provider:
  name: aws
  runtime: python3.12
functions:
  project:
    handler: handler.greet
    events:
      - stream:
          type: dynamodb
          arn: {"Fn::GetAtt": [OrdersTable, StreamArn]}
          batchSize: 100
          startingPosition: LATEST
          maximumRetryAttempts: 3
          bisectBatchOnFunctionError: true
          batchWindow: 5
          destinations:
            onFailure:
              type: sqs
              arn: {"Fn::GetAtt": [OrdersFailures, Arn]}
      - stream: arn:aws:dynamodb:us-east-1:123456789012:table/legacy-orders/stream/2024-01-01T00:00:00.000
resources:
  Resources:
    OrdersTable:
      Type: AWS::DynamoDB::Table
      Properties:
        TableName: orders-${sls:stage}
        BillingMode: PAY_PER_REQUEST
        AttributeDefinitions:
          - {AttributeName: customerId, AttributeType: S}
          - {AttributeName: orderedAt, AttributeType: N}
        KeySchema:
          - {AttributeName: customerId, KeyType: HASH}
          - {AttributeName: orderedAt, KeyType: RANGE}
        TimeToLiveSpecification: {AttributeName: expiresAt, Enabled: true}
        StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
    OrdersFailures:
      Type: AWS::SQS::Queue
"""


def test_dynamodb_stream_processor(write_service: WriteService) -> None:
    spec = _load(write_service, DYNAMODB_STREAM)

    project = spec.functions["project"]
    assert project.triggers == (
        TableStreamTrigger(
            table="orders-dev",
            batch_size=100,
            starting_position="latest",
            batch_window_s=5,
            max_retries=3,
            bisect_on_error=True,
            report_batch_item_failures=False,
        ),
        # The Framework's defaults: 10 records from TRIM_HORIZON.
        TableStreamTrigger(
            table="legacy-orders", batch_size=10, starting_position="trim_horizon", report_batch_item_failures=False
        ),
    )
    assert project.async_config.on_failure == Destination("queue", "orders-stream-dev-OrdersFailures")
    assert spec.resources.tables == (
        TableResource("orders-dev", ("customerId", "S"), ("orderedAt", "N"), "expiresAt"),
    )
    assert spec.resources.queues == (QueueResource("orders-stream-dev-OrdersFailures"),)
    assert _warning_keys(spec) == [
        "resources.Resources.OrdersTable.Properties.BillingMode",
    ]


KINESIS_CONSUMER = """
service: clicks
provider:
  name: aws
  runtime: python3.12
functions:
  consume:
    handler: handler.greet
    events:
      - stream:
          type: kinesis
          arn: !GetAtt ClickStream.Arn
          batchSize: 500
          startingPosition: TRIM_HORIZON
          parallelizationFactor: 2
      - stream:
          arn: arn:aws:kinesis:eu-west-1:123456789012:stream/audit
          enabled: false
resources:
  Resources:
    ClickStream:
      Type: AWS::Kinesis::Stream
      Properties:
        ShardCount: 4
        RetentionPeriodHours: 48
    Alerts:
      Type: AWS::SNS::Topic
"""


def test_kinesis_consumer(write_service: WriteService) -> None:
    spec = _load(write_service, KINESIS_CONSUMER)

    assert spec.functions["consume"].triggers == (
        StreamTrigger(
            stream="clicks-dev-ClickStream", batch_size=500, starting_position="trim_horizon",
            report_batch_item_failures=False,
        ),
    )
    assert spec.resources.streams == (StreamResource("clicks-dev-ClickStream", shards=4, retention_h=48),)
    assert _warning_keys(spec) == [
        "functions.consume.events[1].stream.enabled",
        "functions.consume.events[0].stream.parallelizationFactor",
        "resources.Resources.Alerts",
    ]


def test_stage_option_names_resources(write_service: WriteService) -> None:
    from squall.manifest.serverless_yml import parse_serverless_yml
    from squall.manifest.validate import ManifestSource, read_yaml
    from squall.manifest.serverless_common import ServerlessLoader

    folder = write_service(KINESIS_CONSUMER, name="serverless.yml", modules=("handler.py",))
    path = (folder / "serverless.yml").resolve()
    source = ManifestSource("serverless.yml", path, path.parent)

    spec = parse_serverless_yml(read_yaml(source, ServerlessLoader), source, {"stage": "prod"})

    assert spec.resources.streams[0].name == "clicks-prod-ClickStream"


def _service(events: str, resources: str = "") -> str:
    text = (
        "service: broken\nprovider: {name: aws, runtime: python3.12}\n"
        "functions:\n  job:\n    handler: handler.greet\n    events:\n"
        + "".join(f"      {line}\n" for line in events.strip().splitlines())
    )
    if resources:
        text += "resources:\n  Resources:\n" + "".join(f"    {line}\n" for line in resources.strip().splitlines())
    return text


BAD_EVENTS = [
    (
        "schedule rate in list invalid",
        _service("- schedule: {rate: [rate(5 minutes), rate(0 minutes)]}"),
        "functions.job.events[0].schedule.rate[1]",
        ["rate(0 minutes)"],
    ),
    (
        "schedule string invalid",
        _service("- schedule: every day"),
        "functions.job.events[0].schedule",
        ["every day"],
    ),
    (
        "sqs arn not an arn",
        _service("- sqs: jobs"),
        "functions.job.events[0].sqs",
        ['got "jobs"', "an SQS queue ARN"],
    ),
    (
        "sqs GetAtt of undeclared queue",
        _service("- sqs: {arn: {'Fn::GetAtt': [Missing, Arn]}}"),
        "functions.job.events[0].sqs.arn",
        ["Fn::GetAtt [Missing, Arn]", "a queue under resources.Resources"],
    ),
    (
        "sqs batch size too large",
        _service("- sqs: {arn: 'arn:aws:sqs:us-east-1:1:q', batchSize: 20000}"),
        "functions.job.events[0].sqs.batchSize",
        ["got 20000", "between 1 and 10000"],
    ),
    (
        "s3 event unknown",
        _service("- s3: {bucket: photos, event: 's3:ObjectRestore:*'}"),
        "functions.job.events[0].s3.event",
        ['got "s3:ObjectRestore:*"', "s3:ObjectCreated:*"],
    ),
    (
        "s3 bucket name invalid",
        _service("- s3: Photos_Bucket"),
        "functions.job.events[0].s3",
        ['got "Photos_Bucket"', "3 to 63 lowercase letters"],
    ),
    (
        "stream starting position",
        _service("- stream: {arn: 'arn:aws:kinesis:us-east-1:1:stream/s', startingPosition: AT_TIMESTAMP}"),
        "functions.job.events[0].stream.startingPosition",
        ['got "AT_TIMESTAMP"', '"LATEST" or "TRIM_HORIZON"'],
    ),
    (
        "stream type disagrees with arn",
        _service("- stream: {type: dynamodb, arn: 'arn:aws:kinesis:us-east-1:1:stream/s'}"),
        "functions.job.events[0].stream.type",
        ['got "dynamodb"', '"kinesis"'],
    ),
    (
        "queue name and fifo disagree",
        _service("- sqs: 'arn:aws:sqs:us-east-1:1:q'", "Jobs:\n  Type: AWS::SQS::Queue\n  Properties: {QueueName: jobs, FifoQueue: true}"),
        "resources.Resources.Jobs.Properties.QueueName",
        ['"jobs"', "ending in .fifo exactly when FifoQueue is true"],
    ),
    (
        "key schema attribute undefined",
        _service(
            "- sqs: 'arn:aws:sqs:us-east-1:1:q'",
            "Users:\n  Type: AWS::DynamoDB::Table\n  Properties:\n"
            "    AttributeDefinitions: [{AttributeName: id, AttributeType: S}]\n"
            "    KeySchema: [{AttributeName: email, KeyType: HASH}]",
        ),
        "resources.Resources.Users.Properties.KeySchema[0].AttributeName",
        ['got "email"', "AttributeDefinitions (id)"],
    ),
    (
        "visibility timeout too long",
        _service("- sqs: 'arn:aws:sqs:us-east-1:1:q'", "Jobs:\n  Type: AWS::SQS::Queue\n  Properties: {VisibilityTimeout: 50000}"),
        "resources.Resources.Jobs.Properties.VisibilityTimeout",
        ["got 50000", "whole seconds between 0 and 43200"],
    ),
    (
        "destination function unknown",
        _service("- schedule: rate(1 hour)").replace("    events:", "    destinations: {onFailure: nobody}\n    events:"),
        "functions.job.destinations.onFailure",
        ['got "nobody"', "a function of this service (job)"],
    ),
    (
        "maximum retry attempts too many",
        _service("- schedule: rate(1 hour)").replace("    events:", "    maximumRetryAttempts: 5\n    events:"),
        "functions.job.maximumRetryAttempts",
        ["got 5", "between 0 and 2"],
    ),
]


@pytest.mark.parametrize(
    ("manifest", "key", "fragments"),
    [pytest.param(manifest, key, fragments, id=case) for case, manifest, key, fragments in BAD_EVENTS],
)
def test_bad_event_message(write_service: WriteService, manifest: str, key: str, fragments: list[str]) -> None:
    write_service(manifest, name="serverless.yml", modules=("handler.py",))

    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))

    assert raised.value.path == "serverless.yml"
    assert raised.value.key == key
    for fragment in fragments:
        assert fragment in raised.value.detail


def test_plugins_warned_except_python_requirements(write_service: WriteService) -> None:
    spec = _load(
        write_service,
        _service("- schedule: rate(1 hour)")
        + "plugins: [serverless-python-requirements, serverless-offline, serverless-prune-plugin]\n"
        + "custom: {pythonRequirements: {dockerizePip: true}}\n",
    )

    assert spec.warnings == (
        "plugins: Squall does not run Serverless Framework plugins, so these are ignored: "
        "serverless-offline, serverless-prune-plugin",
    )


def test_sns_destination_warned(write_service: WriteService) -> None:
    spec = _load(
        write_service,
        _service("- schedule: rate(1 hour)").replace(
            "    events:", "    destinations: {onFailure: 'arn:aws:sns:us-east-1:1:alerts'}\n    events:"
        ),
    )

    assert spec.functions["job"].async_config.on_failure is None
    assert spec.warnings == (
        "functions.job.destinations.onFailure: SNS topics are not supported by Squall as destinations yet, ignored",
    )


def test_provider_region_warned(tmp_path: Path) -> None:
    (tmp_path / "handler.py").write_text("def hello(event, context):\n    return 1\n")
    (tmp_path / "serverless.yml").write_text(
        "service: regional\nprovider:\n  name: aws\n  runtime: python3.12\n  region: eu-west-1\n"
        "functions:\n  hello:\n    handler: handler.hello\n"
    )

    warnings = load_service(tmp_path).warnings

    assert any(w.startswith("provider.region: functions run in the server's region us-east-1") for w in warnings)
