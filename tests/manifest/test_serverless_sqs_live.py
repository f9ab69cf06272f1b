"""A serverless.yml with an sqs event on a declared queue, deployed by `squall up` and fed through the SDK."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from squall.sdk import Client
from squall.sdk.queues import Queue

WAIT_S = 30.0

HANDLER = '''
import json, os, time

def consume(event, context):
    for record in event["Records"]:
        path = os.path.join(os.environ["OUT"], f"{time.time_ns()}.json")
        # Written under a temporary name, so the test never reads half a file.
        with open(path + ".tmp", "w") as file:
            json.dump({"body": record["body"], "source": record["eventSourceARN"]}, file)
        os.rename(path + ".tmp", path)
    return {"batchItemFailures": []}
'''

MANIFEST = """
service: orders
provider:
  name: aws
  runtime: python3.12
  timeout: 10
  environment:
    OUT: ${{env:ORDERS_OUT}}
functions:
  consume:
    handler: handler.consume
    events:
      - sqs:
          arn: !GetAtt OrdersQueue.Arn
          batchSize: 5
resources:
  Resources:
    OrdersQueue:
      Type: AWS::SQS::Queue
      Properties:
        QueueName: ${{self:service}}-${{sls:stage}}-orders
        VisibilityTimeout: 30
        RedrivePolicy:
          deadLetterTargetArn: {{"Fn::GetAtt": [OrdersDeadLetters, Arn]}}
          maxReceiveCount: 2
    OrdersDeadLetters:
      Type: AWS::SQS::Queue
"""


def _received(out: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(out.glob("*.json"))]


def _wait_for(check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {WAIT_S} s")


def test_sqs_event_delivers_sent_message(serve: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    app = tmp_path / "app"
    app.mkdir()
    (app / "handler.py").write_text(HANDLER)
    (app / "serverless.yml").write_text(MANIFEST.format())
    server = serve(app, env={"ORDERS_OUT": str(out)})
    client = Client(server.endpoint)

    Queue("orders-dev-orders", client).send('{"order": 42}')
    received = _wait_for(lambda: _received(out))

    assert received[0]["body"] == '{"order": 42}'
    assert received[0]["source"].endswith(":orders-dev-orders")
    orders = Queue("orders-dev-orders", client).info()["queue"]
    assert "orders-dev-OrdersDeadLetters" in json.dumps(orders)
