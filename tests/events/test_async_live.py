"""Asynchronous invocation on a real server: durable acceptance, retries and destinations."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import CONFORMANCE

WAIT_S = 30.0

APP = '''
import json, os, time

def _note(kind, event, context):
    folder = os.environ["OUT"]
    # Retries keep the request id, so each attempt gets a file of its own.
    name = f"{kind}-{time.time_ns()}-{context.aws_request_id}.json"
    # Written under a temporary name, so a reader never sees half a file.
    path = os.path.join(folder, name)
    with open(path + ".tmp", "w") as file:
        json.dump(event, file)
    os.rename(path + ".tmp", path)

def ok(event, context):
    _note("ok", event, context)
    return {"seen": event}

def fail(event, context):
    _note("fail", event, context)
    raise ValueError("always fails")

def slow(event, context):
    time.sleep(0.05)
    _note("slow", event, context)
    return "done"

def collect(event, context):
    _note("record", event, context)
'''


def write_app(folder: Path, out: Path, functions: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(APP)
    (folder / "squall.yml").write_text(f"service: asynctest\nfunctions:\n{functions}")
    return folder


def function(name: str, handler: str, out: Path, extra: str = "") -> str:
    return f"  {name}:\n    handler: app.{handler}\n    environment: {{OUT: {str(out)!r}}}\n{extra}"


def lambda_client(endpoint: str) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 0}),
    )


def wait_for(check: Callable[[], Any], timeout_s: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout_s} s")


def notes(out: Path, kind: str) -> list[Any]:
    return [json.loads(path.read_text()) for path in sorted(out.glob(f"{kind}-*.json"))]


FAST_RETRIES = {"SQUALL_ASYNC_RETRY_DELAYS_S": "0.1,0.2"}


def test_event_invocation_runs(serve: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    app = write_app(tmp_path / "app", out, function("ok", "ok", out))
    server = serve(app)

    answer = lambda_client(server.endpoint).invoke(FunctionName="ok", InvocationType="Event", Payload=b'{"n": 1}')

    assert answer["StatusCode"] == 202
    assert wait_for(lambda: notes(out, "ok")) == [{"n": 1}]


def test_failure_retried_then_reported(serve: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    functions = function("fail", "fail", out, "    on_failure: {function: collect}\n") + function("collect", "collect", out)
    server = serve(write_app(tmp_path / "app", out, functions), env=FAST_RETRIES)

    lambda_client(server.endpoint).invoke(FunctionName="fail", InvocationType="Event", Payload=b'{"order": 7}')

    records = wait_for(lambda: notes(out, "record"))
    assert len(notes(out, "fail")) == 3  # the first attempt and Lambda's two retries
    record = records[0]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == {"order": 7}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "always fails"


def test_no_retries_when_zero(serve: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    extra = "    max_retry_attempts: 0\n    on_failure: {function: collect}\n"
    functions = function("fail", "fail", out, extra) + function("collect", "collect", out)
    server = serve(write_app(tmp_path / "app", out, functions), env=FAST_RETRIES)

    lambda_client(server.endpoint).invoke(FunctionName="fail", InvocationType="Event", Payload=b"{}")

    record = wait_for(lambda: notes(out, "record"))[0]
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert len(notes(out, "fail")) == 1


def test_success_reported_like_aws(serve: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    functions = function("ok", "ok", out, "    on_success: {function: collect}\n") + function("collect", "collect", out)
    server = serve(write_app(tmp_path / "app", out, functions))

    lambda_client(server.endpoint).invoke(FunctionName="ok", InvocationType="Event", Payload=b'{"a": 1}')

    record = wait_for(lambda: notes(out, "record"))[0]
    recorded = json.loads((CONFORMANCE / "aws-recorded" / "lambda-test_lambda_destinations.snapshot.json").read_text())
    case = "tests/aws/services/lambda_/test_lambda_destinations.py::TestLambdaDestinationSqs::test_assess_lambda_destination_invocation[Success-payload0]"
    aws_record = recorded[case]["recorded-content"]["receive_message_result"]["Messages"][0]["Body"]
    assert set(record) == set(aws_record)
    assert set(record["requestContext"]) == set(aws_record["requestContext"])
    assert record["responseContext"] == aws_record["responseContext"]
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["functionArn"].endswith(":function:ok:$LATEST")
    assert record["responsePayload"] == {"seen": {"a": 1}}


def test_unknown_function_not_accepted(serve: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    server = serve(write_app(tmp_path / "app", out, function("ok", "ok", out)))
    client = lambda_client(server.endpoint)

    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="missing", InvocationType="Event", Payload=b"{}")


def test_async_payload_over_1mb_rejected(serve: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    server = serve(write_app(tmp_path / "app", out, function("ok", "ok", out)))
    client = lambda_client(server.endpoint)
    payload = json.dumps({"blob": "x" * (1024 * 1024)}).encode()

    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName="ok", InvocationType="Event", Payload=payload)

    assert raised.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    # AWS's wording for the Event invocation type, with the payload's size.
    assert raised.value.response["Error"]["Message"] == (
        f"{len(payload)} byte payload is too large for the Event invocation type (limit 1048576 bytes)"
    )


def test_async_payload_of_exactly_1mb_accepted(serve: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    server = serve(write_app(tmp_path / "app", out, function("ok", "ok", out)))
    client = lambda_client(server.endpoint)
    payload = b'"' + b"x" * (1024 * 1024 - 2) + b'"'

    response = client.invoke(FunctionName="ok", InvocationType="Event", Payload=payload)

    assert len(payload) == 1024 * 1024
    assert response["StatusCode"] == 202


def test_accepted_survive_sigkill(serve: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    # One slow instance at a time, so most invocations are still queued at the kill.
    app = write_app(tmp_path / "app", out, function("slow", "slow", out, "    reserved_concurrency: 1\n"))
    first = serve(app)
    client = lambda_client(first.endpoint)
    sent = 40
    for number in range(sent):
        assert client.invoke(FunctionName="slow", InvocationType="Event", Payload=json.dumps({"n": number}).encode())[
            "StatusCode"
        ] == 202

    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait()
    done_before_restart = len(notes(out, "slow"))
    second = serve(app, data=first.data)

    seen = wait_for(lambda: {note["n"] for note in notes(out, "slow")} >= set(range(sent)) and notes(out, "slow"))
    assert {note["n"] for note in seen} == set(range(sent))
    assert done_before_restart < sent
    assert "resuming" in "".join(second.output)



def queue_destination_app(tmp_path: Path, out: Path, handler: str, condition: str, queue: str) -> Path:
    """Write an app whose one function sends its `condition` records to a declared queue."""
    app = write_app(tmp_path / "app", out, function(handler, handler, out, f"    {condition}: {{queue: {queue}}}\n"))
    manifest = app / "squall.yml"
    manifest.write_text(manifest.read_text() + f"resources:\n  queues:\n    {queue}: {{}}\n")
    return app


def test_failure_record_sent_to_queue(serve: Any, tmp_path: Path) -> None:
    from squall.sdk import Client
    from squall.sdk.queues import Queue

    out = tmp_path / "out"
    server = serve(queue_destination_app(tmp_path, out, "fail", "on_failure", "failures"), env=FAST_RETRIES)

    lambda_client(server.endpoint).invoke(FunctionName="fail", InvocationType="Event", Payload=b'{"message": "m1"}')

    failures = Queue("failures", Client(server.endpoint))
    messages = wait_for(lambda: failures.receive(max_messages=1, wait_s=1))
    record = json.loads(messages[0]["body"])
    recorded = json.loads((CONFORMANCE / "aws-recorded" / "lambda-test_lambda_destinations.snapshot.json").read_text())
    case = "tests/aws/services/lambda_/test_lambda_destinations.py::TestLambdaDestinationSqs::test_retries"
    aws_record = recorded[case]["recorded-content"]["queue_destination_payload"]["Messages"][0]["Body"]
    assert set(record) == set(aws_record)
    assert set(record["requestContext"]) == set(aws_record["requestContext"])
    assert set(record["responseContext"]) == set(aws_record["responseContext"])
    assert set(record["responsePayload"]) == set(aws_record["responsePayload"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == {"message": "m1"}


def test_record_too_large_for_queue_goes_without_payloads(serve: Any, tmp_path: Path) -> None:
    from squall.sdk import Client
    from squall.sdk.queues import Queue

    out = tmp_path / "out"
    server = serve(queue_destination_app(tmp_path, out, "ok", "on_success", "successes"), env=FAST_RETRIES)
    # Over the queue's 256 KiB message limit with the request and the response, under the 1 MiB async limit.
    payload = json.dumps({"pad": "x" * 300_000}).encode()

    lambda_client(server.endpoint).invoke(FunctionName="ok", InvocationType="Event", Payload=payload)

    successes = Queue("successes", Client(server.endpoint))
    record = json.loads(wait_for(lambda: successes.receive(max_messages=1, wait_s=1))[0]["body"])
    assert record["requestContext"]["condition"] == "Success"
    assert "requestPayload" not in record
    assert "responsePayload" not in record
    # The function ran once: a record it could not send whole does not run it again.
    assert len(notes(out, "ok")) == 1


DEAD_LETTER_TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  DeadLetters: {{Type: AWS::SQS::Queue, Properties: {{QueueName: dead-letters}}}}
  Failures: {{Type: AWS::SQS::Queue, Properties: {{QueueName: failures}}}}
  Fail:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.fail
      Runtime: python3.12
      Environment: {{Variables: {{OUT: {out}}}}}
      DeadLetterQueue: {{Type: SQS, TargetArn: !GetAtt DeadLetters.Arn}}
      EventInvokeConfig:
        MaximumRetryAttempts: 1
        DestinationConfig: {{OnFailure: {{Type: SQS, Destination: !GetAtt Failures.Arn}}}}
"""


def test_dead_letter_queue_gets_event_as_is(serve: Any, tmp_path: Path) -> None:
    from squall.sdk import Client
    from squall.sdk.queues import Queue

    out = tmp_path / "out"
    app = tmp_path / "app"
    app.mkdir()
    out.mkdir()
    (app / "app.py").write_text(APP)
    (app / "template.yaml").write_text(DEAD_LETTER_TEMPLATE.format(out=json.dumps(str(out))))
    server = serve(app, env=FAST_RETRIES)
    payload = b'{"order": 7,   "note": "kept as sent"}'

    response = lambda_client(server.endpoint).invoke(FunctionName="Fail", InvocationType="Event", Payload=payload)

    assert response["StatusCode"] == 202
    client = Client(server.endpoint)
    [message] = wait_for(lambda: Queue("dead-letters", client).receive(max_messages=10, wait_s=1))
    assert message["body"] == payload.decode()
    assert message["message_attributes"] == {
        "RequestID": {"data_type": "String", "string_value": response["ResponseMetadata"]["RequestId"],
                      "binary_value": None},
        "ErrorCode": {"data_type": "Number", "string_value": "200", "binary_value": None},
        "ErrorMessage": {"data_type": "String", "string_value": "always fails", "binary_value": None},
    }
    assert len(notes(out, "fail")) == 2  # the first attempt and the one retry the template allows
    # The on-failure destination gets its invocation record as well.
    [failure] = wait_for(lambda: Queue("failures", client).receive(max_messages=10, wait_s=1))
    record = json.loads(failure["body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"order": 7, "note": "kept as sent"}


def test_missing_destination_function_rejected(serve: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    server = serve(write_app(tmp_path / "app", out, function("ok", "ok", out)))
    other = tmp_path / "other"
    other.mkdir()
    (other / "app.py").write_text(APP)
    (other / "squall.yml").write_text(
        "service: other\nfunctions:\n  worker:\n    handler: app.fail\n    on_failure: {function: nosuchfn}\n"
    )

    deployed = subprocess.run(
        [sys.executable, "-m", "squall", "deploy", str(other), "--endpoint", server.endpoint],
        capture_output=True, text=True, timeout=120,
    )

    # The records would be lost, so the deploy fails before anything is served.
    assert deployed.returncode != 0
    assert "functions.worker.on_failure: function 'nosuchfn' is neither a function of this service" in deployed.stderr
    with pytest.raises(lambda_client(server.endpoint).exceptions.ResourceNotFoundException):
        lambda_client(server.endpoint).invoke(FunctionName="worker", InvocationType="Event", Payload=b"{}")


def test_destination_by_aws_name_delivered(serve: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "app.py").write_text(APP)
    (folder / "serverless.yml").write_text(
        "service: shop\n"
        "provider: {name: aws, runtime: python3.12, stage: dev}\n"
        "functions:\n"
        "  ok:\n"
        "    handler: app.ok\n"
        f"    environment: {{OUT: {str(out)!r}}}\n"
        "    destinations: {onSuccess: 'arn:aws:lambda:us-east-1:000000000000:function:shop-dev-collect'}\n"
        "  collect:\n"
        "    handler: app.collect\n"
        f"    environment: {{OUT: {str(out)!r}}}\n"
    )
    server = serve(folder)

    lambda_client(server.endpoint).invoke(FunctionName="ok", InvocationType="Event", Payload=b'{"a": 1}')

    # The ARN names the function by the name AWS deploys it under, which delivery maps to `collect`.
    record = wait_for(lambda: notes(out, "record"))[0]
    assert record["requestContext"]["condition"] == "Success"
    assert record["responsePayload"] == {"seen": {"a": 1}}
