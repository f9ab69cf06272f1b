"""Declared queues, buckets and tables that their services would reject are rejected when the manifest is read.

A deploy would find each case only when it creates the resource, after it
created the resources before it, so the manifest readers check them first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import ManifestError
from squall.manifest import load_service
from tests.manifest.conftest import WriteService

IP_BUCKET = "bucket name '192.168.1.1' is invalid: use 3 to 63 characters"
SAME_KEYS = (
    'expected an attribute other than the partition key "id", since a table\'s partition key and sort key are '
    'two attributes, got "id"'
)
STANDARD_DEDUPLICATION = "expected false, since content-based deduplication is valid only for a FIFO queue"
# 128 characters of two bytes each: within the schema's 255 characters, over DynamoDB's 255 bytes.
LONG_NAME = "é" * 128


def load_error(write_service: WriteService, manifest: str, name: str = "squall.yml") -> ManifestError:
    write_service(manifest, name=name)
    with pytest.raises(ManifestError) as raised:
        load_service(Path("."))
    return raised.value


# squall.yml


def squall_yml(resources: str) -> str:
    return "service: shop\nfunctions:\n  worker: {handler: app.greet}\nresources:\n" + resources


@pytest.mark.parametrize(
    ("resources", "key", "detail"),
    [
        (
            "  queues: {stdq: {content_based_deduplication: true}}\n",
            "resources.queues.stdq.content_based_deduplication",
            STANDARD_DEDUPLICATION + ', whose name ends in ".fifo", got true',
        ),
        ("  buckets: {192.168.1.1: {}}\n", "resources.buckets.192.168.1.1", IP_BUCKET),
        ("  buckets: {xn--uploads: {}}\n", "resources.buckets.xn--uploads", "bucket name 'xn--uploads' is invalid"),
        ("  tables: {orders: {partition_key: id, sort_key: id}}\n", "resources.tables.orders.sort_key", SAME_KEYS),
        (
            "  tables: {orders: {partition_key: id, sort_key: {name: id, type: N}}}\n",
            "resources.tables.orders.sort_key.name",
            SAME_KEYS,
        ),
        (
            f"  tables: {{orders: {{partition_key: {LONG_NAME}}}}}\n",
            "resources.tables.orders.partition_key",
            "partition key attribute name 'ééé",
        ),
        (
            f"  tables: {{orders: {{partition_key: id, ttl_attribute: {LONG_NAME}}}}}\n",
            "resources.tables.orders.ttl_attribute",
            "use 1 to 255 bytes of text",
        ),
        (
            "  queues:\n    first: {}\n    jobs: {dead_letter: {queue: failed}}\n    failed: {dead_letter: {queue: jobs}}\n",
            "resources.queues.jobs.dead_letter.queue",
            "the dead-letter queues form a cycle (jobs -> failed -> jobs)",
        ),
    ],
)
def test_squall_yml_resource_rejected(write_service: WriteService, resources: str, key: str, detail: str) -> None:
    error = load_error(write_service, squall_yml(resources))

    assert error.key == key
    assert detail in error.detail


def test_squall_yml_lists_every_resource_mistake(write_service: WriteService) -> None:
    resources = (
        "  queues: {aq: {}, stdq: {content_based_deduplication: true}}\n"
        "  buckets: {192.168.1.1: {}}\n"
        "  tables: {samekey: {partition_key: id, sort_key: id}}\n"
    )

    message = str(load_error(write_service, squall_yml(resources)))

    assert message.startswith("squall.yml: resources.queues.stdq.content_based_deduplication: ")
    assert "\n  also resources.buckets.192.168.1.1: " in message
    assert "\n  also resources.tables.samekey.sort_key: " in message


def test_squall_yml_cycle_reported_once(write_service: WriteService) -> None:
    resources = "  queues:\n    jobs: {dead_letter: {queue: failed}}\n    failed: {dead_letter: {queue: jobs}}\n"

    message = str(load_error(write_service, squall_yml(resources)))

    assert message.count("form a cycle") == 1


def test_squall_yml_valid_resources_load(write_service: WriteService) -> None:
    resources = (
        "  queues:\n"
        "    jobs.fifo: {content_based_deduplication: true, dead_letter: {queue: failed.fifo}}\n"
        "    failed.fifo: {}\n"
        "  buckets: {uploads.example: {}}\n"
        "  tables: {orders: {partition_key: id, sort_key: created, ttl_attribute: expires}}\n"
    )
    write_service(squall_yml(resources))

    service = load_service(Path("."))

    assert [queue.name for queue in service.resources.queues] == ["jobs.fifo", "failed.fifo"]
    assert service.resources.tables[0].sort_key == ("created", "S")


def test_squall_yml_trigger_bucket_name_rejected(write_service: WriteService) -> None:
    manifest = "service: shop\nfunctions:\n  worker:\n    handler: app.greet\n    events:\n      - objects: {bucket: 10.0.0.1}\n"

    error = load_error(write_service, manifest)

    assert error.key == "functions.worker.events[0].objects.bucket"
    assert "bucket name '10.0.0.1' is invalid" in error.detail


# serverless.yml


def serverless_yml(resources: str, events: str = "") -> str:
    return (
        "service: shop\n"
        "provider: {name: aws, runtime: python3.12}\n"
        f"functions:\n  worker:\n    handler: app.greet\n{events}"
        "resources:\n  Resources:\n" + resources
    )


TABLE = (
    "    Orders:\n"
    "      Type: AWS::DynamoDB::Table\n"
    "      Properties:\n"
    "        AttributeDefinitions: [{{AttributeName: id, AttributeType: S}}]\n"
    "        KeySchema: [{{AttributeName: id, KeyType: HASH}}{range}]\n"
    "{extra}"
)


@pytest.mark.parametrize(
    ("resources", "key", "detail"),
    [
        (
            "    Jobs: {Type: AWS::SQS::Queue, Properties: {QueueName: jobs, ContentBasedDeduplication: true}}\n",
            "resources.Resources.Jobs.Properties.ContentBasedDeduplication",
            STANDARD_DEDUPLICATION + ' (FifoQueue: true and a QueueName ending in ".fifo"), got true',
        ),
        (
            "    Jobs:\n"
            "      Type: AWS::SQS::Queue\n"
            "      Properties:\n"
            "        QueueName: jobs.fifo\n"
            "        FifoQueue: true\n"
            '        RedrivePolicy: {deadLetterTargetArn: {"Fn::GetAtt": [Failed, Arn]}, maxReceiveCount: 3}\n'
            "    Failed: {Type: AWS::SQS::Queue, Properties: {QueueName: failed}}\n",
            "resources.Resources.Jobs.Properties.RedrivePolicy.deadLetterTargetArn",
            'expected a FIFO queue like "jobs.fifo", since SQS requires a dead-letter queue of the queue\'s own type',
        ),
        (
            "    Uploads: {Type: AWS::S3::Bucket, Properties: {BucketName: 192.168.1.1}}\n",
            "resources.Resources.Uploads.Properties.BucketName",
            IP_BUCKET,
        ),
        (
            TABLE.format(range=", {AttributeName: id, KeyType: RANGE}", extra=""),
            "resources.Resources.Orders.Properties.KeySchema",
            SAME_KEYS,
        ),
        (
            TABLE.format(range="", extra="        TimeToLiveSpecification: {AttributeName: '', Enabled: true}\n"),
            "resources.Resources.Orders.Properties.TimeToLiveSpecification.AttributeName",
            "TTL attribute name '' is invalid: use 1 to 255 bytes of text",
        ),
    ],
)
def test_serverless_resource_rejected(write_service: WriteService, resources: str, key: str, detail: str) -> None:
    error = load_error(write_service, serverless_yml(resources), "serverless.yml")

    assert error.key == key
    assert detail in error.detail


def test_serverless_event_bucket_rejected(write_service: WriteService) -> None:
    # The Framework creates the bucket an s3 event names, so its name is checked there.
    events = "    events:\n      - s3: {bucket: 192.168.1.1}\n"
    manifest = serverless_yml("    Jobs: {Type: AWS::SQS::Queue}\n", events)

    error = load_error(write_service, manifest, "serverless.yml")

    assert error.key == "functions.worker.events[0].s3.bucket"
    assert IP_BUCKET in error.detail


def test_serverless_fifo_deduplication_loads(write_service: WriteService) -> None:
    queue = "    Jobs: {Type: AWS::SQS::Queue, Properties: {QueueName: jobs.fifo, FifoQueue: true, ContentBasedDeduplication: true}}\n"
    write_service(serverless_yml(queue), name="serverless.yml")

    service = load_service(Path("."))

    assert service.resources.queues[0].content_based_deduplication is True


# SAM templates


def sam_template(resources: str) -> str:
    return (
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Fn: {Type: AWS::Serverless::Function, Properties: {Handler: app.greet, Runtime: python3.12}}\n" + resources
    )


@pytest.mark.parametrize(
    ("resources", "key", "detail"),
    [
        (
            "  Jobs: {Type: AWS::SQS::Queue, Properties: {QueueName: jobs, ContentBasedDeduplication: true}}\n",
            "Resources.Jobs.Properties.ContentBasedDeduplication",
            STANDARD_DEDUPLICATION + ' (FifoQueue: true and a QueueName ending in ".fifo"), got true',
        ),
        (
            "  Jobs:\n"
            "    Type: AWS::SQS::Queue\n"
            "    Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt Failed.Arn, maxReceiveCount: 3}}\n"
            "  Failed:\n"
            "    Type: AWS::SQS::Queue\n"
            "    Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt Jobs.Arn, maxReceiveCount: 3}}\n",
            "Resources.Jobs.Properties.RedrivePolicy.deadLetterTargetArn",
            "the dead-letter queues form a cycle",
        ),
        (
            "  Uploads: {Type: AWS::S3::Bucket, Properties: {BucketName: 192.168.1.1}}\n",
            "Resources.Uploads.Properties.BucketName",
            IP_BUCKET,
        ),
        (
            "  Orders:\n"
            "    Type: AWS::DynamoDB::Table\n"
            "    Properties:\n"
            "      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]\n"
            "      KeySchema: [{AttributeName: id, KeyType: HASH}, {AttributeName: id, KeyType: RANGE}]\n",
            "Resources.Orders.Properties.KeySchema[1].AttributeName",
            SAME_KEYS,
        ),
        (
            "  Orders:\n"
            "    Type: AWS::DynamoDB::Table\n"
            "    Properties:\n"
            "      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]\n"
            "      KeySchema: [{AttributeName: id, KeyType: HASH}]\n"
            f"      TimeToLiveSpecification: {{AttributeName: {LONG_NAME}, Enabled: true}}\n",
            "Resources.Orders.Properties.TimeToLiveSpecification.AttributeName",
            "use 1 to 255 bytes of text",
        ),
        (
            f"  Orders: {{Type: AWS::Serverless::SimpleTable, Properties: {{PrimaryKey: {{Name: {LONG_NAME}, Type: String}}}}}}\n",
            "Resources.Orders.Properties.PrimaryKey.Name",
            "partition key attribute name 'ééé",
        ),
    ],
)
def test_sam_resource_rejected(write_service: WriteService, resources: str, key: str, detail: str) -> None:
    error = load_error(write_service, sam_template(resources), "template.yaml")

    assert error.key == key
    assert detail in error.detail
