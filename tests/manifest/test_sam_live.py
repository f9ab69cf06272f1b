"""SAM templates served by a real `squall up`: routes respond, and queue messages, uploads, table changes,
stream records, schedules and asynchronous invocations reach their handlers."""

from __future__ import annotations

import base64
import json
import re
import shutil
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel, EventBridgeModel, KinesisDataStreamModel
from botocore.config import Config
from prometheus_client.parser import text_string_to_metric_families

from squall.sdk import Client
from squall.sdk.objects import Bucket
from squall.sdk.queues import Queue
from squall.sdk.streams import Stream
from squall.sdk.tables import Table

TEMPLATES = Path(__file__).resolve().parent / "sam_templates"
CONFORMANCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance"
DELIVERY_TIMEOUT_S = 30.0
# An every-minute schedule's first tick comes at most 60 s after the deploy.
SCHEDULE_TIMEOUT_S = 70.0
POLL_INTERVAL_S = 0.1
LOGS_PATH = "/_squall/api/logs"
METRICS_PATH = "/metrics"
# The start of the line on which a pattern handler prints the event it received.
RECEIVED_PREFIX = '{"received": '
# Squall's default account and region, which the event ARNs carry.
ACCOUNT = "000000000000"
REGION = "us-east-1"
# Lambda waits a minute before retrying a failed asynchronous invocation, and
# SQUALL_ASYNC_RETRY_DELAYS_S shortens that wait.
FAST_RETRIES = {"SQUALL_ASYNC_RETRY_DELAYS_S": "0.1"}
DESTINATION_RECORDINGS = "lambda-test_lambda_destinations.snapshot.json"
RECORDED_CASE = "tests/aws/services/lambda_/test_lambda_destinations.py::TestLambdaDestinationSqs::{}"
# Lambda writes a destination record's timestamp in UTC to the millisecond.
TIMESTAMP_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def serve_pattern(
    serve: Any, tmp_path: Path, pattern: str, template: str | None = None, env: dict[str, str] | None = None
) -> Any:
    """Serve a copy of a pattern folder, so the stack keeps the pattern's name and the repository stays clean.

    `template` names a file of the pattern folder that replaces template.yaml in the copy.
    """
    folder = tmp_path / pattern
    shutil.copytree(TEMPLATES / pattern, folder, ignore=shutil.ignore_patterns("__pycache__"))
    if template is not None:
        shutil.copyfile(folder / template, folder / "template.yaml")
    return serve(folder, env=env)


def receive_results(queue: Queue, count: int) -> list[dict[str, Any]]:
    """Receive `count` JSON messages from `queue`, deleting each, or fail after DELIVERY_TIMEOUT_S."""
    results: list[dict[str, Any]] = []
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while len(results) < count and time.monotonic() < deadline:
        for message in queue.receive(max_messages=10, wait_s=1):
            results.append(json.loads(message["body"]))
            queue.delete(message["receipt_handle"])
    assert len(results) >= count, f"{queue.name}: got {results} within {DELIVERY_TIMEOUT_S} s, expected {count}"
    return results


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/hello/world", 200, {"message": "hello from httpapi-lambda in us-east-1, world", "version": "2.0"}),
        ("/legacy/hello", 200, {"message": "hello from httpapi-lambda in us-east-1, world", "version": "1.0"}),
        ("/no/such/page", 404, {"path": "/no/such/page"}),
    ],
)
def test_http_api_routes_respond(serve: Any, tmp_path: Path, path: str, status: int, body: dict[str, Any]) -> None:
    server = serve_pattern(serve, tmp_path, "httpapi-lambda")

    response = httpx.get(server.endpoint + path, timeout=30)

    assert response.status_code == status
    assert response.json() == body


def test_rest_api_route_responds(serve: Any, tmp_path: Path) -> None:
    server = serve_pattern(serve, tmp_path, "apigw-rest-lambda")

    response = httpx.get(server.endpoint + "/items/42", timeout=30)

    assert response.status_code == 200
    assert response.json() == {"id": "42", "table": "apigw-rest-lambda-ItemsTable", "stage": "dev"}


def test_code_uri_folder_is_code_root(serve: Any, tmp_path: Path) -> None:
    server = serve_pattern(serve, tmp_path, "code-uri-lambda")

    response = httpx.get(server.endpoint + "/users/7", timeout=30)

    # The handler imports a module beside it and opens a file by a relative path, as on Lambda.
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["user"] == "Ada Lovelace"
    assert answer["handler"] == "app.handler"
    assert answer["task_root"].endswith("/functions/get-user")
    assert answer["cwd"] == answer["task_root"]


def test_sqs_message_reaches_handler(serve: Any, tmp_path: Path) -> None:
    server = serve_pattern(serve, tmp_path, "sqs-lambda-dlq")
    client = Client(server.endpoint)

    Queue("sqs-lambda-dlq-orders", client).send("order-1")

    results = receive_results(Queue("sqs-lambda-dlq-ResultsQueue", client), 1)
    assert results == [
        {"received": "order-1", "source": "arn:aws:sqs:us-east-1:000000000000:sqs-lambda-dlq-orders"}
    ]


def test_s3_upload_triggers_handler(serve: Any, tmp_path: Path) -> None:
    server = serve_pattern(serve, tmp_path, "s3-lambda")
    client = Client(server.endpoint)
    bucket = Bucket("s3-lambda-uploadsbucket", client)

    # The first two miss the prefix or the suffix, and changes arrive in order,
    # so a wrongly delivered one would come before the match.
    bucket.put("other/notes.txt", b"no")
    bucket.put("uploads/photo.png", b"no")
    bucket.put("uploads/notes.txt", b"yes")

    results = receive_results(Queue("s3-lambda-results", client), 1)
    assert results[0] == {"bucket": "s3-lambda-uploadsbucket", "key": "uploads/notes.txt", "event": "ObjectCreated:Put"}
    assert len(results) == 1


# Table changes, stream records, schedules and destinations -----------------
#
# Lambda discards what these handlers return, so each prints the event it
# received as one {"received": EVENT} line, and the tests read the function's log.


def received_events(
    endpoint: str, function: str, enough: Callable[[list[Any]], bool], timeout_s: float = DELIVERY_TIMEOUT_S
) -> list[Any]:
    """Poll `function`'s log until the events its handler printed are `enough`, and return them oldest first."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = httpx.get(
            endpoint + LOGS_PATH, params={"function": function, "contains": RECEIVED_PREFIX}, timeout=10
        )
        response.raise_for_status()
        events = [
            json.loads(line)["received"]
            for entry in response.json()["entries"]
            for line in entry["text"].splitlines()
            if line.startswith(RECEIVED_PREFIX)
        ]
        if enough(events) or time.monotonic() >= deadline:
            break
        time.sleep(POLL_INTERVAL_S)
    assert enough(events), f"{function}: its log shows {events} after {timeout_s} s"
    return events


def records_of(events: list[Any]) -> list[dict[str, Any]]:
    return [record for event in events for record in event["Records"]]


def wait_for_stream_pollers(endpoint: str, function: str, shards: int) -> None:
    """Wait until /metrics shows an iterator age for each of the `shards` shards that `function` reads.

    A StartingPosition LATEST trigger starts after the newest record that
    exists when its poller opens the shard, and a poller shows its iterator
    age after its first read. A record put before then is not delivered, as
    with a Lambda event source mapping that is still being enabled.
    """
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while True:
        response = httpx.get(endpoint + METRICS_PATH, timeout=10)
        response.raise_for_status()
        polled = {
            sample.labels["shard"]
            for family in text_string_to_metric_families(response.text)
            if family.name == "squall_stream_iterator_age_seconds"
            for sample in family.samples
            if sample.labels["function"] == function
        }
        if len(polled) >= shards or time.monotonic() >= deadline:
            break
        time.sleep(POLL_INTERVAL_S)
    assert len(polled) == shards, f"{function}: pollers on shards {sorted(polled)} after {DELIVERY_TIMEOUT_S} s"


def sample_event(name: str) -> dict[str, Any]:
    """Return a sample event as Lambda receives it, from the conformance recordings."""
    return json.loads((CONFORMANCE / "lambda-events" / name).read_text())


def test_table_changes_reach_handler(serve: Any, tmp_path: Path) -> None:
    server = serve_pattern(serve, tmp_path, "dynamodb-stream-lambda")
    orders = Table("orders", Client(server.endpoint))

    orders.put({"pk": "order-1", "sk": 1, "status": "new"})
    orders.put({"pk": "order-1", "sk": 1, "status": "paid"})

    events = received_events(server.endpoint, "ChangeProcessorFunction", lambda events: len(records_of(events)) >= 2)
    for event in events:
        DynamoDBStreamModel.model_validate(event)
    inserted, modified = records_of(events)
    new = {"pk": {"S": "order-1"}, "sk": {"N": "1"}, "status": {"S": "new"}}
    paid = {"pk": {"S": "order-1"}, "sk": {"N": "1"}, "status": {"S": "paid"}}
    assert inserted["eventName"] == "INSERT"
    assert inserted["dynamodb"]["Keys"] == {"pk": {"S": "order-1"}, "sk": {"N": "1"}}
    assert inserted["dynamodb"]["NewImage"] == new
    assert "OldImage" not in inserted["dynamodb"]
    # The template's StreamViewType, NEW_AND_OLD_IMAGES, puts both images in a change.
    assert modified["eventName"] == "MODIFY"
    assert modified["dynamodb"]["OldImage"] == new
    assert modified["dynamodb"]["NewImage"] == paid
    assert modified["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert inserted["eventSourceARN"].startswith(f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders/stream/")
    sample = sample_event("dynamoStreamEvent.json")["Records"][0]
    assert set(inserted) == set(sample)
    assert set(inserted["dynamodb"]) == set(sample["dynamodb"])


def test_stream_record_reaches_handler(serve: Any, tmp_path: Path) -> None:
    server = serve_pattern(serve, tmp_path, "kinesis-lambda")
    wait_for_stream_pollers(server.endpoint, "ClickConsumerFunction", shards=2)

    put = Stream("kinesis-lambda-ClickStream", Client(server.endpoint)).put('{"page": "/home"}', partition_key="user-7")

    events = received_events(server.endpoint, "ClickConsumerFunction", lambda events: len(records_of(events)) >= 1)
    for event in events:
        KinesisDataStreamModel.model_validate(event)
    [record] = records_of(events)
    assert base64.b64decode(record["kinesis"]["data"]) == b'{"page": "/home"}'
    assert record["kinesis"]["partitionKey"] == "user-7"
    assert record["kinesis"]["sequenceNumber"] == put.sequence_number
    assert record["eventID"] == f"{put.shard_id}:{put.sequence_number}"
    assert record["eventSourceARN"] == f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/kinesis-lambda-ClickStream"
    sample = sample_event("kinesisStreamEventOneRecord.json")["Records"][0]
    assert set(record) == set(sample)
    assert set(record["kinesis"]) == set(sample["kinesis"])


def test_schedules_fire_each_minute(serve: Any, tmp_path: Path) -> None:
    # The pattern's own schedules fire hours apart, so the test serves a copy
    # whose schedules fire every minute, within SCHEDULE_TIMEOUT_S of the deploy.
    deployed_at = datetime.now(timezone.utc)
    server = serve_pattern(serve, tmp_path, "eventbridge-schedule-lambda", template="every-minute.yaml")
    serving_at = datetime.now(timezone.utc)

    deadline = time.monotonic() + SCHEDULE_TIMEOUT_S
    [scheduled] = received_events(server.endpoint, "ReportFunction", lambda events: len(events) >= 1, SCHEDULE_TIMEOUT_S)
    # All three schedules share the tick, so the one deadline bounds the whole wait.
    cleanups = received_events(
        server.endpoint, "CleanupFunction", lambda events: len(events) >= 2, max(0.0, deadline - time.monotonic())
    )

    # A trigger's Input replaces the event. The disabled trigger ("paused") does not fire.
    assert sorted(cleanups, key=json.dumps) == [{"job": "cleanup", "dry_run": False}, {"job": "sync"}]
    # The rule without an Input sends EventBridge's Scheduled Event for the tick.
    EventBridgeModel.model_validate(scheduled)
    assert scheduled["detail-type"] == "Scheduled Event"
    assert scheduled["source"] == "aws.events"
    assert scheduled["detail"] == {}
    assert scheduled["account"] == ACCOUNT
    assert scheduled["region"] == REGION
    assert scheduled["resources"][0].startswith(f"arn:aws:events:{REGION}:{ACCOUNT}:rule/")
    tick = datetime.strptime(scheduled["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert tick.second == 0
    # The first tick is the first whole minute after the deploy, which happened while the server started.
    assert tick > deployed_at
    assert tick <= serving_at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    sample = sample_event("eventBridgeEvent.json")
    # "replay-name" marks an event replayed from an archive, which a schedule never is.
    assert set(scheduled) == set(sample) - {"replay-name"}


def recorded_destination_record(case: str) -> dict[str, Any]:
    """Return the destination record AWS sent in a recorded case of LocalStack's destination tests."""
    snapshot = json.loads((CONFORMANCE / "aws-recorded" / DESTINATION_RECORDINGS).read_text())
    content = snapshot[RECORDED_CASE.format(case)]["recorded-content"]
    return content["receive_message_result"]["Messages"][0]["Body"]


def success_record(endpoint: str) -> dict[str, Any]:
    """Receive the record that Squall sent to the on-success destination, a queue."""
    [record] = receive_results(Queue("destinations-success", Client(endpoint)), 1)
    return record


def failure_record(endpoint: str) -> dict[str, Any]:
    """Read the record that the on-failure destination, a function, printed to its log."""
    [record] = received_events(endpoint, "FailureHandlerFunction", lambda events: len(events) >= 1)
    return record


@pytest.mark.parametrize(
    ("payload", "read_record", "expected", "response", "recorded_case"),
    [
        (
            {"id": "job-1"},
            success_record,
            {"condition": "Success", "approximateInvokeCount": 1},
            {"done": "job-1"},
            "test_assess_lambda_destination_invocation[payload0]",
        ),
        (
            # The template's MaximumRetryAttempts: 1 allows a second attempt before the record goes out.
            {"id": "job-2", "fail": True},
            failure_record,
            {"condition": "RetriesExhausted", "approximateInvokeCount": 2, "functionError": "Unhandled"},
            {"errorType": "RuntimeError", "errorMessage": "asked to fail"},
            "test_assess_lambda_destination_invocation[payload1]",
        ),
    ],
    ids=["on-success", "on-failure"],
)
def test_async_outcome_reaches_destination(
    serve: Any,
    tmp_path: Path,
    payload: dict[str, Any],
    read_record: Callable[[str], dict[str, Any]],
    expected: dict[str, Any],
    response: dict[str, Any],
    recorded_case: str,
) -> None:
    server = serve_pattern(serve, tmp_path, "lambda-destinations", env=FAST_RETRIES)
    client = boto3.client(
        "lambda", endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(retries={"max_attempts": 0}),
    )

    invoked = client.invoke(FunctionName="WorkerFunction", InvocationType="Event", Payload=json.dumps(payload).encode())

    assert invoked["StatusCode"] == 202
    record = read_record(server.endpoint)
    context = record["requestContext"]
    assert record["version"] == "1.0"
    assert TIMESTAMP_FORMAT.fullmatch(record["timestamp"])
    assert context["condition"] == expected["condition"]
    assert context["approximateInvokeCount"] == expected["approximateInvokeCount"]
    assert context["functionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:WorkerFunction:$LATEST"
    assert context["requestId"] == invoked["ResponseMetadata"]["RequestId"]
    assert record["requestPayload"] == payload
    assert record["responseContext"]["statusCode"] == 200
    assert record["responseContext"]["executedVersion"] == "$LATEST"
    assert record["responseContext"].get("functionError") == expected.get("functionError")
    assert {key: record["responsePayload"].get(key) for key in response} == response
    recorded = recorded_destination_record(recorded_case)
    assert set(record) == set(recorded)
    assert set(context) == set(recorded["requestContext"])
    assert set(record["responseContext"]) == set(recorded["responseContext"])
    if "functionError" in expected:
        # An error payload has Lambda's fixed keys, while a success payload is what the handler returned.
        assert set(record["responsePayload"]) == set(recorded["responsePayload"])
