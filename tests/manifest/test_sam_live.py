"""SAM templates served by a real `squall up`: routes respond, queue messages and uploads reach their handlers."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from squall.sdk import Client
from squall.sdk.objects import Bucket
from squall.sdk.queues import Queue

TEMPLATES = Path(__file__).resolve().parent / "sam_templates"
DELIVERY_TIMEOUT_S = 30.0


def serve_pattern(serve: Any, tmp_path: Path, pattern: str) -> Any:
    """Serve a copy of a pattern folder, so the stack keeps the pattern's name and the repository stays clean."""
    folder = tmp_path / pattern
    shutil.copytree(TEMPLATES / pattern, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return serve(folder)


def receive_results(queue: Queue, count: int) -> list[dict[str, Any]]:
    """Receive `count` JSON messages from `queue`, deleting each, or fail after DELIVERY_TIMEOUT_S."""
    results: list[dict[str, Any]] = []
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while len(results) < count and time.monotonic() < deadline:
        for message in queue.receive(max_messages=10, wait_s=1):
            results.append(json.loads(message["body"]))
            queue.delete(message["receipt_handle"])
    assert len(results) >= count, f"{queue.name}: got {results} within {DELIVERY_TIMEOUT_S} s, expected {count}"
    return results


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/hello/world", 200, {"message": "hello from httpapi-lambda in us-east-1, world", "version": "2.0"}),
        ("/legacy/hello", 200, {"message": "hello from httpapi-lambda in us-east-1, world", "version": "1.0"}),
        ("/no/such/page", 404, {"path": "/no/such/page"}),
    ],
)
def test_http_api_routes_respond(serve: Any, tmp_path: Path, path: str, status: int, body: dict[str, Any]) -> None:
    server = serve_pattern(serve, tmp_path, "httpapi-lambda")

    response = httpx.get(server.endpoint + path, timeout=30)

    assert response.status_code == status
    assert response.json() == body


def test_rest_api_route_responds(serve: Any, tmp_path: Path) -> None:
    server = serve_pattern(serve, tmp_path, "apigw-rest-lambda")

    response = httpx.get(server.endpoint + "/items/42", timeout=30)

    assert response.status_code == 200
    assert response.json() == {"id": "42", "table": "apigw-rest-lambda-ItemsTable", "stage": "dev"}


def test_sqs_message_reaches_handler(serve: Any, tmp_path: Path) -> None:
    server = serve_pattern(serve, tmp_path, "sqs-lambda-dlq")
    client = Client(server.endpoint)

    Queue("sqs-lambda-dlq-orders", client).send("order-1")

    results = receive_results(Queue("sqs-lambda-dlq-ResultsQueue", client), 1)
    assert results == [
        {"received": "order-1", "source": "arn:aws:sqs:us-east-1:000000000000:sqs-lambda-dlq-orders"}
    ]


def test_s3_upload_triggers_handler(serve: Any, tmp_path: Path) -> None:
    server = serve_pattern(serve, tmp_path, "s3-lambda")
    client = Client(server.endpoint)
    bucket = Bucket("s3-lambda-uploadsbucket", client)

    # The first two miss the prefix or the suffix, and changes arrive in order,
    # so a wrongly delivered one would come before the match.
    bucket.put("other/notes.txt", b"no")
    bucket.put("uploads/photo.png", b"no")
    bucket.put("uploads/notes.txt", b"yes")

    results = receive_results(Queue("s3-lambda-results", client), 1)
    assert results[0] == {"bucket": "s3-lambda-uploadsbucket", "key": "uploads/notes.txt", "event": "ObjectCreated:Put"}
    assert len(results) == 1
