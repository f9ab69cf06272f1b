"""A serverless.yml function served by `squall up` sends to the queue its environment names with Ref and QueueUrl."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from squall.sdk import Client
from squall.sdk.queues import Queue

HANDLER = '''
import os

from squall.sdk.queues import Queue


def enqueue(event, context):
    Queue(os.environ["QUEUE_URL"]).send(event["body"])
    Queue(os.environ["QUEUE_ATTRIBUTE"]).send(event["body"] + " again")
    return {"queue": os.environ["QUEUE_URL"]}
'''

MANIFEST = """
service: shop
provider:
  name: aws
  runtime: python3.12
  environment:
    QUEUE_URL: {Ref: JobsQueue}
    QUEUE_ATTRIBUTE: {"Fn::GetAtt": [JobsQueue, QueueUrl]}
functions:
  enqueue:
    handler: handler.enqueue
resources:
  Resources:
    JobsQueue:
      Type: AWS::SQS::Queue
"""


def test_function_sends_to_referenced_queue(serve: Any, tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "handler.py").write_text(HANDLER)
    (app / "serverless.yml").write_text(MANIFEST)
    server = serve(app)
    lambda_client = boto3.client(
        "lambda", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(retries={"max_attempts": 0}),
    )

    invoked = lambda_client.invoke(FunctionName="enqueue", Payload=json.dumps({"body": "job 7"}).encode())
    result = json.loads(invoked["Payload"].read())
    messages = Queue("shop-dev-JobsQueue", Client(server.endpoint)).receive(max_messages=10, wait_s=5)

    assert "FunctionError" not in invoked, result
    assert result == {"queue": "shop-dev-JobsQueue"}
    assert sorted(message["body"] for message in messages) == ["job 7", "job 7 again"]
