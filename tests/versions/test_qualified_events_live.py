"""Events that name a version or alias, on a real server: triggers, Event invokes and SAM's AutoPublishAlias."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from squall import cli_versions
from squall.sdk import Client
from squall.sdk.objects import Bucket
from squall.sdk.queues import Queue
from squall.sdk.streams import Stream
from tests.events.test_async_live import notes, wait_for
from tests.versions.test_versions_live import deploy, lambda_client, run_cli

MANIFEST = """\
service: qualified
resources:
  queues:
    jobs:
      visibility_timeout_s: 5
      dead_letter: {{queue: jobs-dlq, max_receive_count: 2}}
    jobs-dlq: {{}}
  streams:
    clicks: {{}}
  buckets:
    uploads: {{}}
functions:
  worker:
    handler: app.worker
    environment: {{OUT: "{out}"}}
    events:
      - queue: {{name: jobs, qualifier: live}}
      - stream: {{name: clicks, starting_position: trim_horizon, qualifier: live}}
      - objects: {{bucket: uploads, qualifier: live}}
"""

WORKER = """\
import base64, json, os, time

CODE = {code}

def _body(record):
    if "body" in record:
        return record["body"]
    if "kinesis" in record:
        return base64.b64decode(record["kinesis"]["data"]).decode()
    return record["s3"]["object"]["key"]

def worker(event, context):
    bodies = [_body(record) for record in event["Records"]] if isinstance(event, dict) else [event]
    for body in bodies:
        path = os.path.join(os.environ["OUT"], f"ran-{{time.time_ns()}}.json")
        with open(path + ".tmp", "w") as file:
            json.dump({{"body": body, "code": CODE, "version": context.function_version}}, file)
        os.rename(path + ".tmp", path)
"""


def write_worker(folder: Path, out: Path, code: int) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "squall.yml").write_text(MANIFEST.format(out=out))
    (folder / "app.py").write_text(WORKER.format(code=code))


def test_triggers_and_event_invoke_follow_alias(serve: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    folder = tmp_path / "app"
    write_worker(folder, out, 1)
    server = serve(folder, "--no-watch")
    client = Client(server.endpoint)

    # The alias does not exist yet, so the message waits instead of going to the dead-letter queue.
    Queue("jobs", client).send("early")
    Stream("clicks", client).put(b"click", partition_key="k")
    warning = deploy(folder, server.endpoint)
    assert "trigger queue jobs -> live of function 'worker' invokes version or alias 'live', which does not exist" in warning

    run_cli(cli_versions.publish, "worker", "--endpoint", server.endpoint)
    write_worker(folder, out, 2)
    deploy(folder, server.endpoint)
    run_cli(cli_versions.set_command, "worker", "live", "1", "--endpoint", server.endpoint)
    Queue("jobs", client).send("late")
    Bucket("uploads", client).put("photo.png", b"png")
    response = lambda_client(server.endpoint).invoke(
        FunctionName="worker", Qualifier="live", InvocationType="Event", Payload=b'"async"'
    )

    assert response["StatusCode"] == 202
    ran = wait_for(lambda: len(notes(out, "ran")) >= 5 and notes(out, "ran"))
    assert sorted((note["body"], note["code"], note["version"]) for note in ran) == [
        ("async", 1, "1"), ("click", 1, "1"), ("early", 1, "1"), ("late", 1, "1"), ("photo.png", 1, "1"),
    ]
    assert Queue("jobs-dlq", client).receive(max_messages=10) == []


def test_event_invoke_unknown_alias_not_found(serve: Any, tmp_path: Path) -> None:
    folder = tmp_path / "app"
    write_worker(folder, tmp_path / "out", 1)
    server = serve(folder, "--no-watch")

    with pytest.raises(ClientError) as caught:
        lambda_client(server.endpoint).invoke(
            FunctionName="worker", Qualifier="staging", InvocationType="Event", Payload=b"{}"
        )

    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["Error"]["Message"].endswith(":function:worker:staging")


TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  VersionFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      AutoPublishAlias: live
      ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 1}
      Events:
        Get:
          Type: HttpApi
          Properties: {Method: GET, Path: /version}
"""

HANDLER = """\
def handler(event, context):
    return {{"code": {code}, "version": context.function_version}}
"""


def write_sam(folder: Path, code: int) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "template.yaml").write_text(TEMPLATE)
    (folder / "app.py").write_text(HANDLER.format(code=code))


def provisioned_by_version(endpoint: str) -> dict[str, float]:
    """Read squall_provisioned_instances of VersionFunction from /metrics, by version label."""
    text = httpx.get(endpoint + "/metrics", timeout=20).text
    return {
        sample.labels["version"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "squall_provisioned_instances"
        for sample in family.samples
        if sample.labels["function"] == "VersionFunction" and sample.value
    }


def test_auto_publish_alias_follows_code(serve: Any, tmp_path: Path) -> None:
    folder = tmp_path / "autopublish"
    data = tmp_path / "data"
    write_sam(folder, 1)
    server = serve(folder, "--no-watch", data=data)
    first = httpx.get(server.endpoint + "/version", timeout=20).json()

    write_sam(folder, 2)
    deploy(folder, server.endpoint)
    second = httpx.get(server.endpoint + "/version", timeout=20).json()
    provisioned_on_second = provisioned_by_version(server.endpoint)
    run_cli(cli_versions.set_command, "VersionFunction", "live", "1", "--endpoint", server.endpoint)  # a rollback
    # The code is unchanged, so the deploy publishes no version and the rollback stays.
    deploy(folder, server.endpoint)
    rolled_back = httpx.get(server.endpoint + "/version", timeout=20).json()
    provisioned_after_rollback = provisioned_by_version(server.endpoint)
    server.stop()

    restarted = serve(folder, "--no-watch", data=data)
    after_restart = httpx.get(restarted.endpoint + "/version", timeout=20).json()
    listing = httpx.get(
        restarted.endpoint + "/_squall/api/versions", params={"function": "VersionFunction"}, timeout=20
    ).json()
    table = CliRunner().invoke(cli_versions.versions, ["VersionFunction", "--endpoint", restarted.endpoint])

    assert first == {"code": 1, "version": "1"}
    assert second == {"code": 2, "version": "2"}
    # Provisioned instances belong to the alias's version only, never to $LATEST.
    assert provisioned_on_second == {"2": 1}
    assert rolled_back == {"code": 1, "version": "1"}
    assert after_restart == {"code": 1, "version": "1"}
    assert provisioned_after_rollback == {"1": 1}
    assert [version["version"] for version in listing["versions"]] == ["1", "2"]
    assert [(alias["name"], alias["version"]) for alias in listing["aliases"]] == [("live", "1")]
    assert table.exit_code == 0, table.output
    assert all(version["code"] in table.output for version in listing["versions"])


TWO_FOLDERS = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.12, Handler: app.handler, AutoPublishAlias: live}
Resources:
  FirstFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: first/
      Events:
        Get: {Type: HttpApi, Properties: {Method: GET, Path: /first}}
  SecondFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: second/
      Events:
        Get: {Type: HttpApi, Properties: {Method: GET, Path: /second}}
"""


def serve_two_folders(serve: Any, folder: Path) -> Any:
    """Serve TWO_FOLDERS from `folder`, each function's code returning code 1."""
    for name in ("first", "second"):
        (folder / name).mkdir(parents=True)
        (folder / name / "app.py").write_text(HANDLER.format(code=1))
    (folder / "template.yaml").write_text(TWO_FOLDERS)
    return serve(folder, "--no-watch")


def test_auto_publish_alias_ignores_other_folders(serve: Any, tmp_path: Path) -> None:
    folder = tmp_path / "two"
    server = serve_two_folders(serve, folder)

    # A change to one function's folder and a file beside the template.
    (folder / "second" / "app.py").write_text(HANDLER.format(code=2))
    (folder / "README.md").write_text("notes\n")
    deploy(folder, server.endpoint)

    first = httpx.get(server.endpoint + "/first", timeout=20).json()
    second = httpx.get(server.endpoint + "/second", timeout=20).json()
    assert first == {"code": 1, "version": "1"}
    assert second == {"code": 2, "version": "2"}

    # A setting of the function publishes too, as with AutoPublishAliasAllProperties.
    (folder / "template.yaml").write_text(TWO_FOLDERS.replace("CodeUri: first/", "CodeUri: first/\n      MemorySize: 256"))
    deploy(folder, server.endpoint)
    assert httpx.get(server.endpoint + "/first", timeout=20).json() == {"code": 1, "version": "2"}
    assert httpx.get(server.endpoint + "/second", timeout=20).json() == {"code": 2, "version": "2"}


def test_alias_stays_when_new_version_fails_init(serve: Any, tmp_path: Path) -> None:
    folder = tmp_path / "autopublish"
    write_sam(folder, 1)
    server = serve(folder, "--no-watch")
    assert httpx.get(server.endpoint + "/version", timeout=20).json() == {"code": 1, "version": "1"}

    (folder / "app.py").write_text("def handler(event, context:\n")
    result = subprocess.run(
        [sys.executable, "-m", "squall", "deploy", str(folder), "--endpoint", server.endpoint],
        capture_output=True, text=True, timeout=120,
    )
    output = result.stdout + result.stderr

    # As CloudFormation rolls the stack back, the deploy fails and $LATEST keeps its code too.
    assert result.returncode == 1, output
    assert "new version 2 failed their init" in output, output
    assert "alias live stays at version 1" in output
    assert "the deploy was rolled back" in output
    latest = lambda_client(server.endpoint).invoke(FunctionName="VersionFunction", Payload=b"{}")
    assert json.loads(latest["Payload"].read()) == {"code": 1, "version": "$LATEST"}
    # The alias's callers still get the version that works, on its provisioned instance.
    assert httpx.get(server.endpoint + "/version", timeout=20).json() == {"code": 1, "version": "1"}
    assert provisioned_by_version(server.endpoint) == {"1": 1}
    # The failed version is deleted with the rollback, and its number is not given again.
    listing = httpx.get(server.endpoint + "/_squall/api/versions", params={"function": "VersionFunction"}, timeout=20)
    assert [version["version"] for version in listing.json()["versions"]] == ["1"]
    write_sam(folder, 3)
    deploy(folder, server.endpoint)
    assert httpx.get(server.endpoint + "/version", timeout=20).json() == {"code": 3, "version": "3"}


def test_restart_failing_init_serves_nothing(serve: Any, tmp_path: Path) -> None:
    folder = tmp_path / "autopublish"
    data = tmp_path / "data"
    write_sam(folder, 1)
    serve(folder, "--no-watch", data=data).stop()

    (folder / "app.py").write_text("raise RuntimeError('init broke')\n")
    started = subprocess.run(
        [sys.executable, "-m", "squall", "up", str(folder), "--port", "0", "--data", str(data), "--no-watch"],
        capture_output=True, text=True, timeout=120,
    )

    # No earlier deploy of this server process serves the service, so the rollback leaves nothing.
    assert started.returncode != 0
    assert "the deploy was rolled back, so the service is not served" in started.stderr


def test_auto_publish_skips_other_function_edit(serve: Any, tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "app.py").write_text(HANDLER.format(code=1))
    template = TWO_FOLDERS.replace("      CodeUri: first/\n", "").replace("      CodeUri: second/\n", "")
    (folder / "template.yaml").write_text(template)
    server = serve(folder, "--no-watch")

    # Both functions run from the folder that contains the template.
    (folder / "template.yaml").write_text(
        template.replace("  SecondFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n",
                         "  SecondFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n      MemorySize: 256\n")
    )
    deploy(folder, server.endpoint)

    assert httpx.get(server.endpoint + "/first", timeout=20).json() == {"code": 1, "version": "1"}
    assert httpx.get(server.endpoint + "/second", timeout=20).json() == {"code": 1, "version": "2"}


def test_auto_publish_skips_added_event(serve: Any, tmp_path: Path) -> None:
    folder = tmp_path / "events"
    server = serve_two_folders(serve, folder)

    # An event is a resource of its own, not a property of the function, so SAM publishes no version for it.
    added = "        Get: {Type: HttpApi, Properties: {Method: GET, Path: /first}}\n"
    extra = "        Also: {Type: HttpApi, Properties: {Method: GET, Path: /also}}\n"
    (folder / "template.yaml").write_text(TWO_FOLDERS.replace(added, added + extra, 1))
    deploy(folder, server.endpoint)

    assert httpx.get(server.endpoint + "/also", timeout=20).json() == {"code": 1, "version": "1"}
    assert httpx.get(server.endpoint + "/first", timeout=20).json() == {"code": 1, "version": "1"}


def test_template_named_code_file_publishes(serve: Any, tmp_path: Path) -> None:
    folder = tmp_path / "named"
    server = serve_two_folders(serve, folder)
    (folder / "first" / "app.py").write_text(
        "def handler(event, context):\n"
        "    with open('template.yaml') as file:\n"
        "        return {'text': file.read(), 'version': context.function_version}\n"
    )
    (folder / "first" / "template.yaml").write_text("one\n")
    deploy(folder, server.endpoint)

    # Only the template beside the functions' folders is the manifest; this file is the function's code.
    (folder / "first" / "template.yaml").write_text("two\n")
    deploy(folder, server.endpoint)

    assert httpx.get(server.endpoint + "/first", timeout=20).json() == {"text": "two\n", "version": "3"}
