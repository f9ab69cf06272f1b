"""Stream and table-stream triggers on a real server: Lambda-format events, per-shard order, on_failure records."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel, KinesisDataStreamModel

from squall.sdk import Client
from squall.sdk.streams import Stream
from squall.sdk.tables import Table
from tests.events.test_async_live import notes, wait_for

APP = '''
import json, os, time

def _note(kind, value):
    name = f"{kind}-{time.time_ns()}.json"
    # Written under a temporary name, so a reader never sees half a file.
    path = os.path.join(os.environ["OUT"], name)
    with open(path + ".tmp", "w") as file:
        json.dump(value, file)
    os.rename(path + ".tmp", path)

def on_clicks(event, context):
    _note("clicks", event)

def on_users(event, context):
    _note("users", event)

def broken(event, context):
    _note("broken", event)
    raise ValueError("always fails")

def collect(event, context):
    _note("failure", event)
'''

MANIFEST = """service: recordtest
resources:
  streams:
    clicks: {{shards: 2}}
  tables:
    users: {{partition_key: id}}
functions:
  on_clicks:
    handler: app.on_clicks
    environment: {{OUT: {out!r}}}
    events:
      - stream: {{name: clicks, starting_position: trim_horizon, batch_size: 5}}
  on_users:
    handler: app.on_users
    environment: {{OUT: {out!r}}}
    events:
      - table_stream: {{table: users, starting_position: trim_horizon}}
  broken:
    handler: app.broken
    environment: {{OUT: {out!r}}}
    on_failure: {{function: collect}}
    events:
      - stream: {{name: clicks, starting_position: trim_horizon, max_retries: 1}}
  collect:
    handler: app.collect
    environment: {{OUT: {out!r}}}
"""


@pytest.fixture
def server(serve: Any, tmp_path: Path) -> Any:
    out = tmp_path / "out"
    out.mkdir()
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(APP)
    (app / "squall.yml").write_text(MANIFEST.format(out=str(out)))
    running = serve(app)
    running.out = out
    return running


def records_of(out: Path, kind: str) -> list[dict[str, Any]]:
    return [record for event in notes(out, kind) for record in event["Records"]]


def test_stream_records_delivered_in_shard_order(server: Any) -> None:
    clicks = Stream("clicks", Client(server.endpoint))
    put = [clicks.put(f"click-{number}", partition_key=f"user-{number % 4}") for number in range(16)]

    wait_for(lambda: len(records_of(server.out, "clicks")) >= 16)

    events = notes(server.out, "clicks")
    for event in events:
        KinesisDataStreamModel.model_validate(event)
        assert len(event["Records"]) <= 5
    delivered = records_of(server.out, "clicks")
    assert sorted(base64.b64decode(r["kinesis"]["data"]).decode() for r in delivered) == sorted(
        f"click-{number}" for number in range(16)
    )
    assert {result.shard_id for result in put} == {"shardId-000000000000", "shardId-000000000001"}
    for shard in ("shardId-000000000000", "shardId-000000000001"):
        expected = [result.sequence_number for result in put if result.shard_id == shard]
        seen = [r["kinesis"]["sequenceNumber"] for r in delivered if r["eventID"].startswith(shard + ":")]
        assert seen == expected, shard
    assert delivered[0]["eventSourceARN"].endswith(":stream/clicks")


def test_table_changes_delivered_in_order(server: Any) -> None:
    users = Table("users", Client(server.endpoint))
    users.put({"id": "ada", "age": 36})
    users.put({"id": "ada", "age": 37})
    users.delete({"id": "ada"})

    wait_for(lambda: len(records_of(server.out, "users")) >= 3)

    for event in notes(server.out, "users"):
        DynamoDBStreamModel.model_validate(event)
    delivered = records_of(server.out, "users")
    assert [record["eventName"] for record in delivered] == ["INSERT", "MODIFY", "REMOVE"]
    assert delivered[1]["dynamodb"]["OldImage"]["age"] == {"N": "36"}
    assert delivered[1]["dynamodb"]["NewImage"]["age"] == {"N": "37"}
    numbers = [int(record["dynamodb"]["SequenceNumber"]) for record in delivered]
    assert numbers == sorted(numbers)
    assert "/stream/" in delivered[0]["eventSourceARN"]


def test_failing_handler_reports_to_on_failure(server: Any) -> None:
    put = Stream("clicks", Client(server.endpoint)).put("bad-click", partition_key="user-1")

    [failure] = wait_for(lambda: notes(server.out, "failure"))

    assert len(records_of(server.out, "broken")) == 2  # the first try and one retry
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    assert failure["requestContext"]["functionArn"].endswith(":function:broken")
    assert failure["responseContext"]["functionError"] == "Unhandled"
    info = failure["KinesisBatchInfo"]
    assert info["shardId"] == put.shard_id
    assert info["startSequenceNumber"] == put.sequence_number
    assert info["endSequenceNumber"] == put.sequence_number
    assert info["batchSize"] == 1
    assert info["streamArn"].endswith(":stream/clicks")
    # The working function on the same stream is not held up by the broken one.
    wait_for(lambda: records_of(server.out, "clicks"))
