"""A real `squall up --region eu-west-1`: what functions, boto3 and queue events see, and the data folder's region."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from squall.sdk import Client
from squall.sdk.queues import Queue

REGION = "eu-west-1"
ACCOUNT = "000000000000"
WAIT_S = 30.0
REJECTED_START_TIMEOUT_S = 60.0

APP = '''
import json, os, time

def where(event, context):
    return {
        "AWS_REGION": os.environ["AWS_REGION"],
        "AWS_DEFAULT_REGION": os.environ["AWS_DEFAULT_REGION"],
        "arn": context.invoked_function_arn,
    }

def consume(event, context):
    # Written under a temporary name, so that the test never reads half a file.
    path = os.path.join(os.environ["OUT"], f"batch-{time.time_ns()}.json")
    with open(path + ".tmp", "w") as file:
        json.dump(event, file)
    os.rename(path + ".tmp", path)
'''

MANIFEST = """service: regional
resources:
  queues:
    jobs: {{}}
functions:
  where:
    handler: app.where
  consume:
    handler: app.consume
    environment: {{OUT: {out!r}}}
    events:
      - queue: {{name: jobs, batch_size: 1}}
"""


@pytest.fixture
def server(serve: Any, tmp_path: Path) -> Any:
    out = tmp_path / "out"
    out.mkdir()
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(APP)
    (app / "squall.yml").write_text(MANIFEST.format(out=str(out)))
    running = serve(app, "--region", REGION)
    running.out = out
    running.app = app
    return running


def lambda_client(endpoint: str) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 0}, read_timeout=60),
    )


def wait_for_batches(out: Path) -> list[Any]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        batches = [json.loads(path.read_text()) for path in sorted(out.glob("batch-*.json"))]
        if batches:
            return batches
        time.sleep(0.05)
    raise AssertionError(f"no queue event reached the function within {WAIT_S} s")


def test_serving_line_names_region(server: Any) -> None:
    serving = [line for line in server.output if " serving " in line]

    assert serving[0].rstrip().endswith(f"as region {REGION}")


def test_function_sees_region(server: Any) -> None:
    answer = lambda_client(server.endpoint).invoke(FunctionName="where", Payload=b"{}")

    seen = json.loads(answer["Payload"].read())
    assert answer["StatusCode"] == 200
    assert seen["AWS_REGION"] == REGION
    assert seen["AWS_DEFAULT_REGION"] == REGION
    assert seen["arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:where"


def test_function_arn_of_region_invokes(server: Any) -> None:
    client = lambda_client(server.endpoint)

    answer = client.invoke(FunctionName=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:where", Payload=b"{}")

    assert json.loads(answer["Payload"].read())["AWS_REGION"] == REGION


def test_function_arn_of_other_region_not_found(server: Any) -> None:
    client = lambda_client(server.endpoint)

    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:where", Payload=b"{}")

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert f"('{REGION}')" in error["Error"]["Message"]


def test_queue_event_names_region(server: Any) -> None:
    Queue("jobs", Client(server.endpoint)).send("hello")

    record = wait_for_batches(server.out)[0]["Records"][0]

    assert record["body"] == "hello"
    assert record["eventSourceARN"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs"
    assert record["awsRegion"] == REGION


def test_other_region_start_rejected(server: Any) -> None:
    assert server.stop() == 0

    rejected = subprocess.run(
        [sys.executable, "-m", "squall", "up", str(server.app), "--port", "0", "--data", str(server.data),
         "--region", "us-east-1"],
        capture_output=True, text=True, timeout=REJECTED_START_TIMEOUT_S,
    )

    assert rejected.returncode == 2
    assert f"was first served as region {REGION}, not us-east-1" in rejected.stderr
    assert f"--region {REGION}" in rejected.stderr
    assert (server.data / "region").read_text() == f"{REGION}\n"
