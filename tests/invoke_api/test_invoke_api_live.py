"""The Lambda Invoke API of a running server, driven by boto3 and compared with AWS's recordings.

The last test checks that the server outlived every failure the earlier
tests caused, so it relies on pytest's file order.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

import squall

from lambda_apps import LiveApp, live_server
from recordings import matches_template, recording, response_keys

# Lambda's limit on a synchronous request payload.
MAX_REQUEST_BYTES = 6 * 1024 * 1024
RUNTIME_EXIT = "TestLambdaErrors::test_lambda_runtime_exit"
SQUALL_PACKAGE = str(Path(squall.__file__).resolve().parent)


def invoke(client: Any, function: str, payload: Any = None, **options: Any) -> tuple[dict[str, Any], bytes]:
    """Invoke a function and return boto3's response and the payload bytes it read."""
    body = b"{}" if payload is None else json.dumps(payload).encode()
    response = client.invoke(FunctionName=function, Payload=body, **options)
    return response, response["Payload"].read()


def request_id(response: dict[str, Any]) -> str:
    return response["ResponseMetadata"]["RequestId"]


def client_error(client: Any, **arguments: Any) -> dict[str, Any]:
    """Invoke with `arguments`, expect a ClientError, and return its response."""
    with pytest.raises(ClientError) as raised:
        client.invoke(**arguments)
    return raised.value.response


# Invocation types


def test_request_response_returns_result(client: Any) -> None:
    response, payload = invoke(client, "echo", {"name": "Ada", "n": [1, 2]})

    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert json.loads(payload) == {"name": "Ada", "n": [1, 2]}


def test_event_invocation_accepted_and_run(app: LiveApp, client: Any) -> None:
    expected = recording("TestLambdaFeatures::test_invocation_type_event[python3.10]", "invoke-result")

    response, payload = invoke(client, "echo", {"queued": True}, InvocationType="Event")

    assert response["StatusCode"] == expected["StatusCode"] == 202
    assert payload == b""
    assert response_keys(response) == response_keys(expected)
    ran = live_server.wait_for(
        lambda: live_server.log_entries(app.endpoint, function="echo", request_id=request_id(response)), timeout_s=10
    )
    assert ran, "the queued invocation never ran"
    assert '{"queued": true}' in ran[0]["text"]


def test_dry_run_answers_204(client: Any) -> None:
    expected = recording("TestLambdaFeatures::test_invocation_type_dry_run[python3.10]", "invoke-result")

    response, payload = invoke(client, "echo", InvocationType="DryRun")

    assert response["StatusCode"] == expected["StatusCode"] == 204
    assert payload == b""
    assert response_keys(response) == response_keys(expected)


def test_log_tail_matches_recording(client: Any) -> None:
    expected = recording("TestLambdaFeatures::test_invocation_with_logs[python3.10]", "invoke")
    expected_lines = recording("TestLambdaFeatures::test_invocation_with_logs[python3.10]", "logs")["logs"]

    # The first call of `tail` is a cold start, as in the recording, so REPORT has an Init Duration.
    response, payload = invoke(client, "tail", LogType="Tail")

    assert response_keys(response) == response_keys(expected)
    assert json.loads(payload) == expected["Payload"]
    lines = base64.b64decode(response["LogResult"]).decode().splitlines(keepends=True)
    assert len(lines) == len(expected_lines), lines
    for line, template in zip(lines, expected_lines):
        assert matches_template(template, line), (line, template)
    assert lines[0] == f"START RequestId: {request_id(response)} Version: $LATEST\n"


# Errors of the handler


def test_handler_error_matches_recording(app: LiveApp, client: Any) -> None:
    expected = recording("TestLambdaErrors::test_lambda_handler_error", "invocation_error")

    response, payload = invoke(client, "handler_error")
    error = json.loads(payload)

    assert response_keys(response) == response_keys(expected)
    assert response["FunctionError"] == expected["FunctionError"] == "Unhandled"
    assert set(error) == set(expected["Payload"]) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert error["errorType"] == expected["Payload"]["errorType"]
    assert error["errorMessage"] == expected["Payload"]["errorMessage"]
    assert error["requestId"] == request_id(response)
    # The recorded frame names the user's file in /var/task; here it is the deployed copy of the app folder.
    recorded_frame = expected["Payload"]["stackTrace"][0]
    own_frame = recorded_frame.replace("/var/task/lambda_handler_error.py", str(app.task_root / "handler_error.py"))
    assert error["stackTrace"] == [own_frame]


def test_timeout_matches_recording(client: Any) -> None:
    expected = recording("TestLambdaBehavior::test_lambda_invoke_with_timeout", "invoke-result")

    response, payload = invoke(client, "sleeper")
    error = json.loads(payload)

    assert response_keys(response) == response_keys(expected)
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == expected["Payload"]["errorType"] == "Sandbox.Timedout"
    assert matches_template(expected["Payload"]["errorMessage"], error["errorMessage"])
    assert error["errorMessage"] == f"RequestId: {request_id(response)} Error: Task timed out after 1.00 seconds"


def test_response_over_6mb_matches_recording(client: Any) -> None:
    expected = recording("TestLambdaBaseFeatures::test_lambda_too_large_response", "invoke_result")

    response, payload = invoke(client, "big_response")

    assert response_keys(response) == response_keys(expected)
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(payload) == expected["Payload"]


def test_exit_during_init_matches_recording(client: Any) -> None:
    expected = recording(RUNTIME_EXIT, "invocation_error")

    response, payload = invoke(client, "init_exit")
    error = json.loads(payload)

    assert response_keys(response) == response_keys(expected)
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == expected["Payload"]["errorType"] == "Runtime.ExitError"
    assert matches_template(expected["Payload"]["errorMessage"], error["errorMessage"]), error["errorMessage"]


@pytest.mark.parametrize(
    "function",
    [
        "os_exit",
        "sys_exit",
    ],
)
def test_exit_in_handler_is_exit_error(client: Any, function: str) -> None:
    expected = recording(RUNTIME_EXIT, "invocation_error")

    response, payload = invoke(client, function)
    error = json.loads(payload)

    assert response_keys(response) == response_keys(expected)
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"] == f"RequestId: {request_id(response)} Error: Runtime exited with error: exit status 3"


@dataclass(frozen=True)
class InitFailure:
    """A function whose module cannot be loaded, and the error Lambda names for it."""

    function: str
    error_type: str
    message: str  # a regular expression for the whole errorMessage


INIT_FAILURES = [
    InitFailure(
        "import_error",
        "Runtime.ImportModuleError",
        re.escape("Unable to import module 'import_error': No module named 'squall_no_such_module_for_tests'"),
    ),
    InitFailure("syntax_error", "Runtime.UserCodeSyntaxError", r"Syntax error in module 'syntax_error': .+"),
    InitFailure(
        "missing_handler", "Runtime.HandlerNotFound", re.escape("Handler 'not_defined_anywhere' missing on module 'handlers'")
    ),
    InitFailure("module_error", "ValueError", re.escape("invalid literal for int() with base 10: 'not a number'")),
]


@pytest.mark.parametrize("failure", INIT_FAILURES, ids=[f.function for f in INIT_FAILURES])
def test_init_failure_named_as_lambda(client: Any, failure: InitFailure) -> None:
    # A second call meets the same error: a broken module never serves.
    for _ in range(2):
        response, payload = invoke(client, failure.function)
        error = json.loads(payload)

        assert response["StatusCode"] == 200
        assert response["FunctionError"] == "Unhandled"
        assert {"errorMessage", "errorType"} <= set(error)
        assert error["errorType"] == failure.error_type
        assert re.fullmatch(failure.message, error["errorMessage"]), error["errorMessage"]


def test_module_error_traceback_ends_in_user_code(app: LiveApp, client: Any) -> None:
    _, payload = invoke(client, "module_error")
    frames = json.loads(payload)["stackTrace"]

    # AWS keeps the import machinery's frames above the user's; Squall's runtime frames must not show.
    assert frames
    assert frames[-1].startswith(f'  File "{app.task_root / "module_error.py"}", line 2, in <module>')
    assert not any(SQUALL_PACKAGE in frame for frame in frames), frames


def test_memory_hog_fails_then_recovers(client: Any) -> None:
    response, payload = invoke(client, "memory_hog", {"mb": 1024})
    error = json.loads(payload)

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] in ("Runtime.OutOfMemory", "MemoryError"), error

    response, payload = invoke(client, "memory_hog", {"mb": 1})

    assert "FunctionError" not in response, payload
    assert json.loads(payload) == {"allocated_mb": 1}


# Errors of the API


def test_unknown_function_not_found(client: Any) -> None:
    expected = recording("services/lambda_/test_lambda.py::TestLambdaFeatures::test_invoke_exceptions", "invoke_function_doesnotexist")

    error = client_error(client, FunctionName="doesnotexist", Payload=b"{}")

    assert error["ResponseMetadata"]["HTTPStatusCode"] == expected["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == expected["Error"]["Code"]
    assert matches_template(expected["Error"]["Message"], error["Error"]["Message"]), error["Error"]["Message"]


def test_unknown_function_error_keys(client: Any) -> None:
    expected = recording("services/lambda_/test_lambda.py::TestLambdaFeatures::test_invoke_exceptions", "invoke_function_doesnotexist")

    error = client_error(client, FunctionName="doesnotexist", Payload=b"{}")

    assert response_keys(error) == response_keys(expected)


def test_invalid_json_payload_rejected(client: Any) -> None:
    expected = recording(
        "TestLambdaErrors::test_lambda_invoke_payload_encoding_error", "invoke_function_invalid_payload_message", "message-"
    )

    error = client_error(client, FunctionName="echo", Payload=b"{not json")

    assert error["ResponseMetadata"]["HTTPStatusCode"] == expected["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == expected["Error"]["Code"] == "InvalidRequestContentException"
    assert response_keys(error) == response_keys(expected)
    # The parser's own words differ from AWS's Java parser; the prefix is AWS's.
    prefix = "Could not parse request body into json: Could not parse payload into json: "
    assert expected["Error"]["Message"].startswith(prefix)
    assert error["Error"]["Message"].startswith(prefix)


def test_payload_not_utf8_named_as_aws_does(client: Any) -> None:
    expected = recording(
        "TestLambdaErrors::test_lambda_invoke_payload_encoding_error", "invoke_function_invalid_payload_body", "body-"
    )

    error = client_error(client, FunctionName="echo", Payload=b"n\x87r")

    assert error["Error"]["Code"] == expected["Error"]["Code"] == "InvalidRequestContentException"
    # AWS's parser adds its own position note after the clause.
    clause = "Could not parse request body into json: Could not parse payload into json: Invalid UTF-8 start byte 0x87"
    assert expected["Error"]["Message"].startswith(clause)
    assert error["Error"]["Message"] == clause + " at byte 2"


def test_payload_of_6mb_rejected(client: Any) -> None:
    # A payload of exactly the limit is rejected: AWS's message requires a request smaller than it.
    oversized = b'"' + b"x" * (MAX_REQUEST_BYTES - 2) + b'"'
    assert len(oversized) == MAX_REQUEST_BYTES

    error = client_error(client, FunctionName="echo", Payload=oversized)

    assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert error["Error"]["Code"] == "RequestEntityTooLargeException"
    assert error["Error"]["Message"] == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"


def test_zero_reserved_concurrency_matches_recording(client: Any) -> None:
    expected = recording("TestLambdaConcurrency::test_reserved_concurrency", "exc_no_cap_requestresponse")

    error = client_error(client, FunctionName="no_capacity", Payload=b"{}")

    assert error["ResponseMetadata"]["HTTPStatusCode"] == expected["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Error"] == expected["Error"]
    assert response_keys(error) == response_keys(expected)
    assert error["Reason"] == expected["Reason"]
    assert error["Type"] == expected["Type"]


def test_function_invokes_another_with_boto3(client: Any) -> None:
    # The instance's AWS credentials let boto3 sign its request to SQUALL_ENDPOINT.
    response, payload = invoke(client, "chain")

    assert "FunctionError" not in response, payload
    assert json.loads(payload) == {"from": "chain"}


def test_server_survives_failures(app: LiveApp, client: Any) -> None:
    health = httpx.get(app.endpoint + live_server.HEALTH_PATH, timeout=10)

    assert app.server.process.poll() is None
    assert health.status_code == 200
    _, payload = invoke(client, "echo", {"still": "here"})
    assert json.loads(payload) == {"still": "here"}
