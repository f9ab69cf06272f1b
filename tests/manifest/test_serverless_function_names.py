"""serverless.yml functions are also invoked by the names the Framework deploys them under: SERVICE-STAGE-KEY or `name`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from squall.deploy.variables import DeployVariables
from squall.errors import ManifestError
from squall.manifest import load_service
from tests.invoke_api.lambda_apps import lambda_client

from collections.abc import Callable

WriteService = Callable[..., Path]

MANIFEST = """
service: shop
provider:
  name: aws
  runtime: python3.12
functions:
  target:
    handler: app.greet
  caller:
    handler: app.greet
    name: shop-caller-custom
"""


def test_default_name_is_service_stage_key(write_service: WriteService) -> None:
    spec = load_service(write_service(MANIFEST, name="serverless.yml"))
    assert spec.functions["target"].aws_name == "shop-dev-target"


def test_stage_option_changes_the_name(write_service: WriteService) -> None:
    spec = load_service(write_service(MANIFEST, name="serverless.yml"), variables=DeployVariables(stage="prod"))
    assert spec.functions["target"].aws_name == "shop-prod-target"


def test_name_setting_replaces_the_default(write_service: WriteService) -> None:
    spec = load_service(write_service(MANIFEST, name="serverless.yml"))
    assert spec.functions["caller"].aws_name == "shop-caller-custom"
    assert "name" not in " ".join(spec.warnings)


def test_invalid_name_setting_is_an_error(write_service: WriteService) -> None:
    folder = write_service(MANIFEST.replace("shop-caller-custom", "'has spaces'"), name="serverless.yml")
    with pytest.raises(ManifestError) as raised:
        load_service(folder)
    message = str(raised.value)
    assert "functions.caller.name" in message
    assert "has spaces" in message
    assert "1 to 64 ASCII letters" in message


def test_default_name_over_64_characters_is_an_error(write_service: WriteService) -> None:
    long_key = "k" * 60
    folder = write_service(MANIFEST.replace("  target:", f"  {long_key}:"), name="serverless.yml")

    with pytest.raises(ManifestError) as raised:
        load_service(folder)

    message = str(raised.value)
    assert f"functions.{long_key}" in message
    assert f"'shop-dev-{long_key}', is 69 characters long" in message
    assert "set a shorter one with name:" in message


def test_name_taken_by_another_function_fails_the_deploy(tmp_path: Path) -> None:
    app = tmp_path / "clash"
    app.mkdir()
    (app / "handlers.py").write_text(HANDLERS)
    (app / "serverless.yml").write_text(LIVE_MANIFEST.replace("name: shop-caller-custom", "name: target"))

    result = subprocess.run(
        [sys.executable, "-m", "squall", "up", str(app), "--port", "0", "--data", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=120,
    )

    assert result.returncode == 2
    assert "functions.caller.name: 'target' is already function 'target' of this service" in result.stderr


HANDLERS = '''
import json, os
import boto3

def target(event, context):
    return {"name": context.function_name, "got": event}

def caller(event, context):
    client = boto3.client("lambda")
    answer = client.invoke(FunctionName=os.environ["TARGET"], Payload=json.dumps({"from": "caller"}))
    return json.loads(answer["Payload"].read())
'''

LIVE_MANIFEST = """
service: shop
provider:
  name: aws
  runtime: python3.12
  timeout: 10
functions:
  target:
    handler: handlers.target
  caller:
    handler: handlers.caller
    name: shop-caller-custom
    environment:
      TARGET: ${self:service}-${sls:stage}-target
"""


def test_functions_are_invoked_by_their_aws_names(serve: Any, tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "handlers.py").write_text(HANDLERS)
    (app / "serverless.yml").write_text(LIVE_MANIFEST)
    server = serve(app)
    client = lambda_client(server.endpoint)

    # One function calls the other by the name its environment builds, as on AWS.
    answer = client.invoke(FunctionName="shop-caller-custom", Payload=b"{}")
    assert "FunctionError" not in answer, answer["Payload"].read()
    assert json.loads(answer["Payload"].read()) == {"name": "target", "got": {"from": "caller"}}

    # get_function finds the function by its AWS name, and a full ARN with a qualifier works with it too.
    described = client.get_function(FunctionName="shop-dev-target")["Configuration"]
    assert described["FunctionName"] == "target"
    account = described["FunctionArn"].split(":")[4]
    arn = f"arn:aws:lambda:us-east-1:{account}:function:shop-dev-target:$LATEST"
    answer = client.invoke(FunctionName=arn, Payload=b"{}")
    assert json.loads(answer["Payload"].read()) == {"name": "target", "got": {}}

    # The other stage's name names nothing.
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="shop-prod-target", Payload=b"{}")

    # `squall logs` finds the function's log by the AWS name as well, once the store wrote it.
    deadline = time.monotonic() + 20
    while True:
        logs = subprocess.run(
            [sys.executable, "-m", "squall", "logs", "shop-dev-target", "--endpoint", server.endpoint],
            capture_output=True, text=True, timeout=60,
        )
        if "START RequestId:" in logs.stdout or time.monotonic() > deadline:
            break
    assert logs.returncode == 0, logs.stderr
    assert "START RequestId:" in logs.stdout


def test_function_named_as_another_services_aws_name_fails(serve: Any, tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "handlers.py").write_text(HANDLERS)
    (app / "serverless.yml").write_text(LIVE_MANIFEST)
    server = serve(app)
    other = tmp_path / "other"
    other.mkdir()
    (other / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (other / "squall.yml").write_text("service: other\nfunctions:\n  shop-dev-target:\n    handler: app.handler\n")

    result = subprocess.run(
        [sys.executable, "-m", "squall", "deploy", str(other), "--endpoint", server.endpoint],
        capture_output=True, text=True, timeout=120,
    )

    assert result.returncode == 1
    assert "'shop-dev-target' is already the AWS name of function 'target' of service 'shop'" in result.stderr
