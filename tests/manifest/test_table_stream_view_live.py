"""A serverless.yml's StreamViewType, deployed by `squall up`: what a table-stream trigger receives."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from squall.cli_tables import group
from squall.sdk import Client
from squall.sdk.tables import Table
from tests.events.test_async_live import wait_for


HANDLER = '''
import json, os, time

def record(event, context):
    for record in event["Records"]:
        path = os.path.join(os.environ["OUT"], f"{time.time_ns()}.json")
        # Written under a temporary name, so the test never reads half a file.
        with open(path + ".tmp", "w") as file:
            json.dump({"name": record["eventName"], "source": record["eventSourceARN"], "body": record["dynamodb"]}, file)
        os.rename(path + ".tmp", path)
'''

# For each view type: whether a record carries the old image and the new image.
VIEW_TYPES = {
    "KEYS_ONLY": (False, False),
    "NEW_IMAGE": (False, True),
    "OLD_IMAGE": (True, False),
    "NEW_AND_OLD_IMAGES": (True, True),
}

TABLE = """
    {logical_id}:
      Type: AWS::DynamoDB::Table
      Properties:
        TableName: users-{suffix}
        AttributeDefinitions: [{{AttributeName: id, AttributeType: S}}]
        KeySchema: [{{AttributeName: id, KeyType: HASH}}]
        StreamSpecification: {{StreamViewType: {view_type}}}"""

EVENT = """
      - stream:
          type: dynamodb
          arn: {{"Fn::GetAtt": [{logical_id}, StreamArn]}}
          startingPosition: TRIM_HORIZON
          batchSize: 10"""

MANIFEST = """
service: users
provider:
  name: aws
  runtime: python3.12
  timeout: 10
  environment:
    OUT: ${{env:USERS_OUT}}
functions:
  record:
    handler: handler.record
    events:{events}
resources:
  Resources:{tables}
"""


def _logical_id(view_type: str) -> str:
    return "Users" + view_type.title().replace("_", "")


def _table_name(view_type: str) -> str:
    return "users-" + view_type.lower().replace("_", "-")


def _manifest() -> str:
    events = "".join(EVENT.format(logical_id=_logical_id(view_type)) for view_type in VIEW_TYPES)
    tables = "".join(
        TABLE.format(logical_id=_logical_id(view_type), suffix=_table_name(view_type).removeprefix("users-"),
                     view_type=view_type)
        for view_type in VIEW_TYPES
    )
    return MANIFEST.format(events=events, tables=tables)


def _received(out: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(out.glob("*.json"))]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.conftest import start_server

    out = tmp_path_factory.mktemp("out")
    app = tmp_path_factory.mktemp("app")
    (app / "handler.py").write_text(HANDLER)
    (app / "serverless.yml").write_text(_manifest())
    server = start_server(app, tmp_path_factory.mktemp("data"), env={"USERS_OUT": str(out)})
    client = Client(server.endpoint)

    # One INSERT, one MODIFY and one REMOVE in each table.
    for view_type in VIEW_TYPES:
        table = Table(_table_name(view_type), client)
        table.put({"id": "u1", "email": "ann@example.com"})
        table.put({"id": "u1", "email": "bob@example.com"})
        table.delete({"id": "u1"})
    received = wait_for(lambda: (records := _received(out)) and len(records) >= 3 * len(VIEW_TYPES) and records)
    yield server, received
    server.stop()


@pytest.mark.parametrize("view_type", list(VIEW_TYPES))
def test_trigger_gets_view_type_fields(deployed: Any, view_type: str) -> None:
    keeps_old, keeps_new = VIEW_TYPES[view_type]
    _, received = deployed
    records = [record for record in received if f":table/{_table_name(view_type)}/stream/" in record["source"]]
    insert, modify, remove = (record["body"] for record in records)

    assert [record["name"] for record in records] == ["INSERT", "MODIFY", "REMOVE"]
    for body in (insert, modify, remove):
        assert body["Keys"] == {"id": {"S": "u1"}}
        assert body["StreamViewType"] == view_type
    assert ("NewImage" in insert) is keeps_new
    assert "OldImage" not in insert
    assert ("OldImage" in modify) is keeps_old
    assert ("NewImage" in modify) is keeps_new
    assert ("OldImage" in remove) is keeps_old
    assert "NewImage" not in remove
    image_bytes = len("id") + len("u1") + len("email") + len("ann@example.com")
    assert modify["SizeBytes"] == len("id") + len("u1") + image_bytes * (keeps_old + keeps_new)


def test_keys_only_record_has_no_attribute(deployed: Any) -> None:
    _, received = deployed
    keys_only = [record for record in received if "/users-keys-only/" in record["source"]]

    assert keys_only
    assert "example.com" not in json.dumps(keys_only)


def test_cli_describe_and_create_view_type(deployed: Any, tmp_path: Path) -> None:
    server, _ = deployed
    runner = CliRunner()
    options = ["--endpoint", server.endpoint, "--data", str(tmp_path)]

    def run(*arguments: str) -> Any:
        return runner.invoke(group, [*arguments, *options], env={"SQUALL_TOKEN": None}, catch_exceptions=False)

    described = run("describe", "users-new-image")
    created = run("create", "audit", "--partition-key", "id:S", "--stream-view-type", "old_image")
    quiet = run("create", "quiet", "--partition-key", "id:S", "--no-stream")
    both = run("create", "both", "--partition-key", "id:S", "--no-stream", "--stream-view-type", "KEYS_ONLY")

    assert described.exit_code == 0, described.output
    assert json.loads(described.output)["stream_view_type"] == "NEW_IMAGE"
    assert json.loads(described.output)["stream_enabled"] is True
    assert created.exit_code == 0, created.output
    assert created.output.strip() == "table audit: key id (S), stream OLD_IMAGE"
    assert quiet.exit_code == 0, quiet.output
    assert quiet.output.strip() == "table quiet: key id (S), no stream"
    assert json.loads(run("describe", "quiet").output)["stream_view_type"] is None
    assert both.exit_code != 0
    assert "has no view type" in both.output
