"""Handler errors whose results reach Lambda's 6 MB response limit, invoked through boto3 (apps/large_errors)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambda_apps import LiveApp, lambda_client, live_server
from recordings import recording

MAX_RESPONSE_BYTES = 6_291_556


@pytest.fixture(scope="module")
def app(serve_module: Any) -> LiveApp:
    return serve_module("large_errors")


@pytest.fixture(scope="module")
def client(app: LiveApp) -> Any:
    return lambda_client(app.endpoint)


def invoke(client: Any, name: str, payload: bytes = b"{}") -> tuple[dict[str, Any], bytes]:
    response = client.invoke(FunctionName=name, Payload=payload)
    return response, response["Payload"].read()


def test_oversized_error_is_response_size_error(client: Any) -> None:
    # AWS's recorded response to a result over the limit.
    expected = recording("TestLambdaBaseFeatures::test_lambda_too_large_response", "invoke_result")

    response, payload = invoke(client, "over_limit")

    assert response["StatusCode"] == expected["StatusCode"]
    assert response["FunctionError"] == expected["FunctionError"]
    assert json.loads(payload) == expected["Payload"]
    assert len(payload) < 1024


def test_error_under_limit_is_sent_whole(client: Any) -> None:
    response, payload = invoke(client, "under_limit")
    error = json.loads(payload)

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "RuntimeError"
    assert error["errorMessage"] == "y" * (MAX_RESPONSE_BYTES - 4096)
    assert error["stackTrace"]
    assert len(payload) <= MAX_RESPONSE_BYTES


def test_oversized_error_is_logged(app: LiveApp, client: Any) -> None:
    response, _ = invoke(client, "over_limit")
    request_id = response["ResponseMetadata"]["RequestId"]

    entries = live_server.wait_for(
        lambda: live_server.log_entries(app.endpoint, function="over_limit", request_id=request_id), 10.0
    )

    text = "".join(entry["text"] for entry in entries)
    assert "[ERROR] RuntimeError: xxx" in text
    assert "Function.ResponseSizeTooLarge" in text


def test_instance_serves_after_oversized_error(client: Any) -> None:
    failed, _ = invoke(client, "after_error", b'{"fail": true}')

    response, payload = invoke(client, "after_error")

    assert failed["FunctionError"] == "Unhandled"
    assert "FunctionError" not in response
    assert json.loads(payload) == "still serving"
