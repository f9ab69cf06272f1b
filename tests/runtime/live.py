"""Helpers of the runtime's live tests: write a service folder, invoke its functions through boto3."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config


def write_service(folder: Path, files: dict[str, str]) -> Path:
    """Write a service folder from file names and their text, and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def task_root(server: Any) -> Path:
    """Return the copy of the service folder that the server's deploy made, which instances import from."""
    copies = [path for path in (server.data / "code").iterdir() if not path.name.startswith(".")]
    if len(copies) != 1:
        raise AssertionError(f"expected one code copy under {server.data / 'code'}, found {copies}")
    return copies[0]


@dataclass(frozen=True)
class Invocation:
    """What one call of the Invoke API returned."""

    payload: Any
    function_error: str | None
    log: str


def invoke(server: Any, function: str, event: Any = None) -> Invocation:
    """Invoke a function through the server's Lambda Invoke API, with the log's tail."""
    client = boto3.client(
        "lambda",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 0}, read_timeout=30, connect_timeout=5),
    )
    body = json.dumps({} if event is None else event).encode()
    response = client.invoke(FunctionName=function, Payload=body, LogType="Tail")
    return Invocation(
        payload=json.loads(response["Payload"].read()),
        function_error=response.get("FunctionError"),
        log=base64.b64decode(response.get("LogResult", "")).decode(),
    )
