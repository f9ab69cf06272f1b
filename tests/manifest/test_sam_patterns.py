"""SAM templates in the shape of the aws-samples serverless patterns, each translated and checked whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.manifest import find_manifest, load_service
from squall.manifest.spec import (
    ApiType,
    AsyncConfig,
    BucketResource,
    Destination,
    FunctionSpec,
    HttpEvent,
    ObjectTrigger,
    QueueResource,
    QueueTrigger,
    Resources,
    ScheduleTrigger,
    StreamResource,
    StreamTrigger,
    TableResource,
    TableStreamTrigger,
)

TEMPLATES = Path(__file__).resolve().parent / "sam_templates"

PATTERNS: dict[str, tuple[dict[str, FunctionSpec], Resources, tuple[str, ...]]] = {
    "apigw-rest-lambda": (
        {
            "GetItemFunction": FunctionSpec(
                name="GetItemFunction",
                handler="items.get_item", code_dir="src",
                memory_mb=256,
                timeout_s=10,
                # Globals' variables merged in; the function's LOG_LEVEL (an Fn::If) wins.
                environment={"STAGE": "dev", "LOG_LEVEL": "DEBUG", "TABLE_NAME": "apigw-rest-lambda-ItemsTable"},
                http=(HttpEvent("GET", "/items/{id}", "1.0", "Prod"),),
                runtime="python3.12",
            ),
            "PutItemFunction": FunctionSpec(
                name="PutItemFunction",
                handler="items.put_item", code_dir="src",
                memory_mb=512,
                timeout_s=10,
                environment={"STAGE": "dev", "LOG_LEVEL": "INFO", "TABLE_NAME": "apigw-rest-lambda-ItemsTable"},
                reserved_concurrency=5,
                provisioned=1,
                # AutoPublishAlias: live points the route at the alias.
                http=(HttpEvent("POST", "/items", "1.0", "Prod", qualifier="live"),),
                runtime="python3.12",
                auto_publish_alias="live",
            ),
        },
        Resources(tables=(TableResource("apigw-rest-lambda-ItemsTable", ("itemId", "S"), stream_view_type=None),)),
        (
            "Resources.GetItemFunction.Properties.Policies: ignored, because Squall checks no IAM permissions",
            "Outputs: stack outputs are not shown by Squall, ignored",
        ),
    ),
    "httpapi-lambda": (
        {
            "HelloWorldFunction": FunctionSpec(
                name="HelloWorldFunction",
                handler="app.lambda_handler", code_dir="hello_world",
                environment={"GREETING": "hello from httpapi-lambda in us-east-1"},
                http=(HttpEvent("GET", "/hello/{name}", "2.0"), HttpEvent("GET", "/legacy/hello", "1.0", api=ApiType.HTTP)),
                runtime="python3.12",
            ),
            # An HttpApi event without a path is the API's catch-all route.
            "FallbackFunction": FunctionSpec(
                name="FallbackFunction",
                handler="app.fallback", code_dir="hello_world",
                http=(HttpEvent("ANY", "$default", "2.0"),),
                runtime="python3.12",
            ),
        },
        Resources(),
        (
            "Globals.Function.Architectures: ignored, because functions run on the server's own architecture",
            "Outputs: stack outputs are not shown by Squall, ignored",
        ),
    ),
    "sqs-lambda-dlq": (
        {
            "OrderConsumerFunction": FunctionSpec(
                name="OrderConsumerFunction",
                handler="consumer.handler", code_dir="src",
                timeout_s=30,
                environment={"RESULTS_QUEUE": "sqs-lambda-dlq-ResultsQueue"},
                triggers=(QueueTrigger("sqs-lambda-dlq-orders", batch_size=5, batch_window_s=1.0, max_concurrency=2),),
                runtime="python3.12",
            ),
        },
        Resources(
            queues=(
                QueueResource("sqs-lambda-dlq-OrdersDeadLetterQueue", retention_s=1_209_600),
                QueueResource(
                    "sqs-lambda-dlq-orders",
                    visibility_timeout_s=60,
                    dead_letter_queue="sqs-lambda-dlq-OrdersDeadLetterQueue",
                    max_receive_count=3,
                ),
                QueueResource("sqs-lambda-dlq-ResultsQueue"),
            )
        ),
        (),
    ),
    "s3-lambda": (
        {
            "ObjectCreatedFunction": FunctionSpec(
                name="ObjectCreatedFunction",
                handler="on_upload.handler", code_dir="src",
                environment={"RESULTS_QUEUE": "s3-lambda-results", "BUCKET_ARN": "arn:aws:s3:::s3-lambda-uploadsbucket"},
                triggers=(ObjectTrigger("s3-lambda-uploadsbucket", ("s3:ObjectCreated:*",), "uploads/", ".txt"),),
                runtime="python3.11",
            ),
        },
        Resources(queues=(QueueResource("s3-lambda-results"),), buckets=(BucketResource("s3-lambda-uploadsbucket"),)),
        ("Resources.ObjectCreatedFunction.Properties.Policies: ignored, because Squall checks no IAM permissions",),
    ),
    "dynamodb-stream-lambda": (
        {
            "ChangeProcessorFunction": FunctionSpec(
                name="ChangeProcessorFunction",
                handler="changes.handler", code_dir="src",
                triggers=(
                    TableStreamTrigger(
                        "orders", batch_size=10, starting_position="trim_horizon", batch_window_s=2.0,
                        max_retries=3, bisect_on_error=True, report_batch_item_failures=False,
                    ),
                ),
                async_config=AsyncConfig(on_failure=Destination("queue", "dynamodb-stream-lambda-StreamFailuresQueue")),
                runtime="python3.12",
            ),
        },
        Resources(
            queues=(QueueResource("dynamodb-stream-lambda-StreamFailuresQueue"),),
            tables=(TableResource("orders", ("pk", "S"), ("sk", "N"), "expires_at"),),
        ),
        ("Resources.OrdersTable.Properties.BillingMode: not supported by Squall yet, ignored",),
    ),
    "kinesis-lambda": (
        {
            "ClickConsumerFunction": FunctionSpec(
                name="ClickConsumerFunction",
                handler="clicks.handler", code_dir="src",
                memory_mb=1024,
                triggers=(
                    StreamTrigger(
                        "kinesis-lambda-ClickStream", batch_size=50, starting_position="latest",
                        report_batch_item_failures=False,
                    ),
                ),
                runtime="python3.13",
            ),
        },
        Resources(streams=(StreamResource("kinesis-lambda-ClickStream", shards=2, retention_h=48),)),
        (
            "Resources.ClickConsumerFunction.Properties.Events.Clicks.Properties.ParallelizationFactor: "
            "not supported by Squall yet, ignored",
        ),
    ),
    "eventbridge-schedule-lambda": (
        {
            "CleanupFunction": FunctionSpec(
                name="CleanupFunction",
                handler="jobs.cleanup", code_dir="src",
                triggers=(
                    ScheduleTrigger("cron(0 3 * * ? *)", input={"job": "cleanup", "dry_run": False}),
                    ScheduleTrigger("rate(1 hour)", enabled=False),
                    ScheduleTrigger(
                        "cron(0/15 8-17 ? * MON-FRI *)", timezone="Europe/Berlin", input={"job": "sync"},
                        rule_name="CleanupFunctionBusinessHours", scheduler_group="default",
                    ),
                ),
                runtime="python3.12",
            ),
            # Scheduled by an AWS::Events::Rule resource that targets it.
            "ReportFunction": FunctionSpec(
                name="ReportFunction",
                handler="jobs.report", code_dir="src",
                triggers=(
                    ScheduleTrigger(
                        "cron(0 9 ? * MON *)", input={"report": "weekly"},
                        rule_name="eventbridge-schedule-lambda-WeeklyReportRule",
                    ),
                ),
                runtime="python3.12",
            ),
        },
        Resources(),
        ("Resources.WeeklyReportPermission: AWS::Lambda::Permission is not needed: Squall checks no permissions, ignored",),
    ),
    "lambda-destinations": (
        {
            "FailureHandlerFunction": FunctionSpec(
                name="FailureHandlerFunction", handler="app.on_failure", code_dir="src", runtime="python3.12"
            ),
            "WorkerFunction": FunctionSpec(
                name="WorkerFunction",
                handler="app.worker", code_dir="src",
                async_config=AsyncConfig(
                    max_retry_attempts=1,
                    max_event_age_s=3600,
                    on_success=Destination("queue", "destinations-success"),
                    on_failure=Destination("function", "FailureHandlerFunction"),
                ),
                runtime="python3.12",
            ),
        },
        Resources(queues=(QueueResource("destinations-success"),)),
        (),
    ),
}


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_pattern_translates(pattern: str) -> None:
    functions, resources, warnings = PATTERNS[pattern]
    folder = TEMPLATES / pattern

    spec = load_service(folder)

    assert spec.service == pattern
    assert spec.root == folder.resolve()
    assert spec.manifest_path == folder.resolve() / "template.yaml"
    assert spec.functions == functions
    assert spec.resources == resources
    assert sorted(spec.warnings) == sorted(warnings)


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_pattern_handlers_exist(pattern: str) -> None:
    folder = TEMPLATES / pattern
    spec = load_service(folder)

    for function in spec.functions.values():
        module = function.code_root(folder) / (function.module.replace(".", "/") + ".py")
        assert module.is_file(), f"{function.name}: {module} is missing"
        assert f"def {function.attribute}(" in module.read_text()


def test_template_is_found_as_manifest() -> None:
    assert find_manifest(TEMPLATES / "httpapi-lambda").name == "template.yaml"
