"""An AWS::Serverless::HttpApi with a named stage, on a running server: its routes are served only under the stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  DevApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: dev
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      Events:
        Staged:
          Type: HttpApi
          Properties: {ApiId: !Ref DevApi, Path: "/hello/{name}", Method: GET}
        StagedV1:
          Type: HttpApi
          Properties: {ApiId: !Ref DevApi, Path: /old, Method: GET, PayloadFormatVersion: "1.0"}
        Root:
          Type: HttpApi
          Properties: {Path: /root, Method: GET}
"""

HANDLER = """\
import json

def handler(event, context):
    context_ = event["requestContext"]
    seen = {
        "version": event["version"],
        "path": event.get("rawPath") or event.get("path"),
        "contextPath": context_.get("path") or context_.get("http", {}).get("path"),
        "stage": context_["stage"],
        "route": event.get("routeKey") or event.get("resource"),
        "parameters": event.get("pathParameters"),
    }
    return {"statusCode": 200, "body": json.dumps(seen)}
"""


@pytest.fixture
def server(serve: Any, tmp_path: Path) -> Any:
    folder = tmp_path / "staged"
    folder.mkdir()
    (folder / "template.yaml").write_text(TEMPLATE)
    (folder / "app.py").write_text(HANDLER)
    return serve(folder, "--no-watch")


def test_payload_2_0_route_under_its_stage(server: Any) -> None:
    response = httpx.get(server.endpoint + "/dev/hello/ada", timeout=20)

    assert response.status_code == 200, response.text
    # As API Gateway sends it: the path as requested, with the stage; the route key without it.
    assert response.json() == {
        "version": "2.0", "path": "/dev/hello/ada", "contextPath": "/dev/hello/ada", "stage": "dev",
        "route": "GET /hello/{name}", "parameters": {"name": "ada"},
    }


def test_payload_1_0_route_under_its_stage(server: Any) -> None:
    response = httpx.get(server.endpoint + "/dev/old", timeout=20)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "version": "1.0", "path": "/dev/old", "contextPath": "/dev/old", "stage": "dev", "route": "/old",
        "parameters": None,
    }


def test_staged_route_not_served_at_the_root(server: Any) -> None:
    missing = httpx.get(server.endpoint + "/hello/ada", timeout=20)
    root = httpx.get(server.endpoint + "/root", timeout=20)

    assert missing.status_code == 404
    assert missing.json() == {"message": "Not Found"}
    assert root.status_code == 200
    assert root.json()["stage"] == "$default"
