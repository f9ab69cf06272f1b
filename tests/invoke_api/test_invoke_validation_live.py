"""How the Invoke API of a running server validates FunctionName, Qualifier and InvocationType, compared with AWS's recordings."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import botocore.session
import httpx
import pytest
from botocore.exceptions import ClientError

from recordings import LAMBDA_API_RECORDINGS, matches_template, recording, response_keys

ARN_PREFIX = "arn:aws:lambda:us-east-1:000000000000:function:"
NAME_VALIDATION = "TestLambdaFunction::test_function_name_and_qualifier_validation"


def client_error(client: Any, **arguments: Any) -> dict[str, Any]:
    """Invoke with `arguments`, expect a ClientError, and return its response."""
    with pytest.raises(ClientError) as raised:
        client.invoke(Payload=b"{}", **arguments)
    return raised.value.response


def recorded_invoke_error(case: str) -> dict[str, Any]:
    """Return the error AWS returned to Invoke in one case of its name and qualifier validation."""
    return recording(f"{NAME_VALIDATION}[{case}-invoke]", "invoke_exception", source=LAMBDA_API_RECORDINGS)


def recorded_message(case: str) -> str:
    """Rebuild the whole ValidationException message of a recorded case, which the recording splits into a count and clauses."""
    recorded = recorded_invoke_error(case)
    noun = "error" if recorded["Count"] == 1 else "errors"
    return f"{recorded['Count']} validation {noun} detected: " + "; ".join(recorded["Errors"])


def invoke_model_constraints(member: str) -> dict[str, Any]:
    """Return the constraints botocore's Lambda API model puts on one parameter of Invoke."""
    model = botocore.session.get_session().get_service_model("lambda")
    return model.operation_model("Invoke").input_shape.members[member].metadata


# Qualifiers that disagree


QUALIFIER_MISMATCHES = {
    "name": ("target:$LATEST", "5"),
    "full-arn": (ARN_PREFIX + "echo:1", "$LATEST"),
    "partial-arn": ("000000000000:function:echo:$LATEST", "live"),
    "unknown-function": ("my-function:$LATEST", "1"),
}


@pytest.mark.parametrize(("function_name", "qualifier"), QUALIFIER_MISMATCHES.values(), ids=QUALIFIER_MISMATCHES.keys())
def test_qualifier_mismatch_matches_recording(client: Any, function_name: str, qualifier: str) -> None:
    expected = recording(
        "TestLambdaFunction::test_ops_with_arn_qualifier_mismatch[get_function]",
        "not_match_exception",
        source=LAMBDA_API_RECORDINGS,
    )

    error = client_error(client, FunctionName=function_name, Qualifier=qualifier)

    assert error["ResponseMetadata"]["HTTPStatusCode"] == expected["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"] == expected["Error"]
    assert response_keys(error) == response_keys(expected)
    assert error["Type"] == expected["Type"] == "User"
    assert error["message"] == expected["message"]
    assert error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "InvalidParameterValueException"
    assert error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == error["ResponseMetadata"]["RequestId"]


def test_invoke_mismatch_recorded_for_invoke() -> None:
    # AWS returned the same error to Invoke itself, for a function that does not exist.
    expected = recorded_invoke_error("latest_version_with_additional_qualifier")
    reference = recording(
        "TestLambdaFunction::test_ops_with_arn_qualifier_mismatch[get_function]",
        "not_match_exception",
        source=LAMBDA_API_RECORDINGS,
    )

    assert expected["Code"] == reference["Error"]["Code"]
    assert expected["Message"] == reference["Error"]["Message"]


QUALIFIER_AGREEMENTS = {
    "name": ("echo:$LATEST", "$LATEST"),
    "full-arn": (ARN_PREFIX + "echo:$LATEST", "$LATEST"),
    "partial-arn": ("000000000000:function:echo:$LATEST", "$LATEST"),
}


@pytest.mark.parametrize(("function_name", "qualifier"), QUALIFIER_AGREEMENTS.values(), ids=QUALIFIER_AGREEMENTS.keys())
def test_equal_qualifiers_invoke(client: Any, function_name: str, qualifier: str) -> None:
    response = client.invoke(FunctionName=function_name, Qualifier=qualifier, Payload=b'{"same": true}')

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert json.loads(response["Payload"].read()) == {"same": True}


# Names and qualifiers that break Invoke's constraints


@dataclass(frozen=True)
class InvalidTarget:
    """A FunctionName and Qualifier that AWS rejected, and the recorded case that contains AWS's error."""

    case: str
    function_name: str
    qualifier: str | None = None


INVALID_TARGETS = [
    InvalidTarget("function_name_is_single_invalid", "*"),
    InvalidTarget("invalid_characters_in_function_name", "my-function!"),
    InvalidTarget("invalid_characters_in_qualifier", "echo", "invalid!"),
    InvalidTarget("qualifier_too_long", "echo", "a" * 129),
    InvalidTarget("invalid_account_id_in_partial_arn", "invalid-account:function:my-function"),
    InvalidTarget("invalid_region_in_arn", "arn:aws:lambda:invalid-region:000000000000:function:my-function"),
    InvalidTarget("non_lambda_arn", "arn:aws:ec2:us-east-1:000000000000:instance:i-1234567890abcdef0"),
    InvalidTarget("full_arn_with_multiple_qualifiers", ARN_PREFIX + "my-function:1:2"),
    InvalidTarget("partial_arn_with_extra_qualifier", "function:my-function:$LATEST:extra"),
    InvalidTarget("missing_region_in_arn", "arn:aws:lambda::000000000000:function:my-function"),
    InvalidTarget("missing_account_id_in_arn", "arn:aws:lambda:us-east-1::function:my-function"),
    InvalidTarget("misspelled_latest_in_arn", ARN_PREFIX + "my-function:$LATES"),
    InvalidTarget(
        "full_arn_and_qualifier_too_long_and_invalid_region",
        "arn:aws:lambda:invalid-region:000000000000:function:my-function-" + "a" * 170,
        "a" * 129,
    ),
]


@pytest.mark.parametrize("target", INVALID_TARGETS, ids=[target.case for target in INVALID_TARGETS])
def test_invalid_target_matches_recording(client: Any, target: InvalidTarget) -> None:
    expected = recorded_invoke_error(target.case)
    arguments: dict[str, Any] = {"FunctionName": target.function_name}
    if target.qualifier is not None:
        arguments["Qualifier"] = target.qualifier

    error = client_error(client, **arguments)

    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == expected["Code"] == "ValidationException"
    assert matches_template(recorded_message(target.case), error["Error"]["Message"]), error["Error"]["Message"]
    assert response_keys(error) == {"Error"}


def test_name_with_space_is_invalid(client: Any) -> None:
    template = recorded_message("invalid_characters_in_function_name").replace("my-function!", "bad name!")

    error = client_error(client, FunctionName="bad name!")

    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationException"
    assert error["Error"]["Message"] == template


def test_name_pattern_is_aws_model(client: Any) -> None:
    constraints = invoke_model_constraints("FunctionName")

    error = client_error(client, FunctionName="bad name!")

    assert error["Error"]["Message"].endswith(f"Member must satisfy regular expression pattern: {constraints['pattern']}")


def test_arn_over_max_length_is_invalid(client: Any) -> None:
    max_length = invoke_model_constraints("FunctionName")["max"]
    long_arn = ARN_PREFIX + "a" * (max_length + 1 - len(ARN_PREFIX))

    error = client_error(client, FunctionName=long_arn)

    assert len(long_arn) == max_length + 1
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationException"
    assert error["Error"]["Message"] == (
        f"1 validation error detected: Value '{long_arn}' at 'functionName' failed to satisfy constraint: "
        f"Member must have length less than or equal to {max_length}"
    )


@pytest.mark.parametrize("case", ["function_name_too_long", "function_name_and_qualifier_too_long"])
def test_long_bare_name_not_found(client: Any, case: str) -> None:
    # AWS returns ResourceNotFoundException for a bare name of 65 characters, not ValidationException.
    expected = recorded_invoke_error(case)
    function_name = "a" * 65 if case == "function_name_too_long" else "my-function:" + "a" * 65

    error = client_error(client, FunctionName=function_name)

    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == expected["Code"] == "ResourceNotFoundException"
    assert matches_template(expected["Message"], error["Error"]["Message"]), error["Error"]["Message"]


# Invocation types


def test_unknown_invocation_type_is_invalid(client: Any) -> None:
    allowed = client.meta.service_model.shape_for("InvocationType").enum

    error = client_error(client, FunctionName="echo", InvocationType="Later")

    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationException"
    # The order is that of a message AWS returned for an invalid type.
    assert error["Error"]["Message"] == (
        "1 validation error detected: Value 'Later' at 'invocationType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [DryRun, RequestResponse, Event]"
    )
    assert sorted(allowed) == ["DryRun", "Event", "RequestResponse"]


def test_validation_precedes_lookup(client: Any) -> None:
    # The parameters are checked before the function is looked up, so a bad type on an unknown function is invalid, not missing.
    error = client_error(client, FunctionName="doesnotexist", InvocationType="Later")

    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationException"


# ARNs of another region or account


def test_other_region_matches_recording(client: Any) -> None:
    expected = recording(
        "TestLambdaFunction::test_get_function_wrong_region[invoke]", "wrong_region_exception", source=LAMBDA_API_RECORDINGS
    )

    error = client_error(client, FunctionName="arn:aws:lambda:eu-west-1:000000000000:function:echo")

    assert error["ResponseMetadata"]["HTTPStatusCode"] == expected["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == expected["Error"]["Code"]
    assert matches_template(expected["Message"], error["Error"]["Message"]), error["Error"]["Message"]
    assert error["Error"]["Message"] == "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"


@pytest.mark.parametrize("function_name", ["arn:aws:lambda:us-east-1:123456789012:function:echo", "123456789012:function:echo"])
def test_other_account_is_not_found(client: Any, function_name: str) -> None:
    error = client_error(client, FunctionName=function_name)

    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["Error"]["Message"] == "Function not found: arn:aws:lambda:us-east-1:123456789012:function:echo:$LATEST"


def test_unknown_log_type_is_invalid(client: Any) -> None:
    allowed = client.meta.service_model.shape_for("LogType").enum

    error = client_error(client, FunctionName="echo", LogType="tail")

    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationException"
    assert error["Error"]["Message"] == (
        "1 validation error detected: Value 'tail' at 'logType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [None, Tail]"
    )
    assert sorted(allowed) == ["None", "Tail"]


def test_client_context_over_limit_is_refused(client: Any) -> None:
    # The Invoke API reference allows up to 3,583 bytes of base64.
    fits = base64.b64encode(json.dumps({"custom": {"pad": "x" * 2600}}).encode()).decode()
    too_long = base64.b64encode(json.dumps({"custom": {"pad": "x" * 2700}}).encode()).decode()
    assert len(fits) <= 3583 < len(too_long)

    assert client.invoke(FunctionName="echo", Payload=b"{}", ClientContext=fits)["StatusCode"] == 200
    error = client_error(client, FunctionName="echo", ClientContext=too_long)

    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "InvalidRequestContentException"
    assert "3583" in error["Error"]["Message"]


@pytest.mark.parametrize(
    ("operation", "arguments", "named"),
    [
        ("delete_function", {"FunctionName": "echo"}, "DeleteFunction"),
        ("update_function_configuration", {"FunctionName": "echo", "Timeout": 5}, "UpdateFunctionConfiguration"),
        ("update_function_code", {"FunctionName": "echo", "ZipFile": b"PK"}, "UpdateFunctionCode"),
        ("create_function", {"FunctionName": "new", "Role": "r", "Code": {"ZipFile": b"PK"}}, "CreateFunction"),
        # Operations under the Lambda API's other version prefixes.
        ("get_function_concurrency", {"FunctionName": "echo"}, "GET /2019-09-30/functions/echo/concurrency"),
        ("list_event_source_mappings", {}, "GET /2015-03-31/event-source-mappings"),
        ("get_account_settings", {}, "GET /2016-08-19/account-settings"),
    ],
)
def test_other_operations_say_only_invoke_is_served(client: Any, operation: str, arguments: dict[str, Any], named: str) -> None:
    with pytest.raises(ClientError) as raised:
        getattr(client, operation)(**arguments)

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "UnsupportedOperationException"
    # Not a ResourceNotFoundException, which would tell the caller the function does not exist.
    assert "serves only Invoke" in error["Error"]["Message"]
    assert named in error["Error"]["Message"]


@pytest.mark.parametrize(
    ("operation", "arguments", "named", "hint"),
    [
        ("put_function_concurrency", {"FunctionName": "echo", "ReservedConcurrentExecutions": 2},
         "PutFunctionConcurrency", "set reserved_concurrency in squall.yml"),
        ("tag_resource", {"Resource": "arn:aws:lambda:us-east-1:000000000000:function:echo", "Tags": {"a": "b"}},
         "TagResource (POST /2017-03-31/tags/arn:aws:lambda:us-east-1:000000000000:function:echo",
         "Squall keeps no tags"),
        ("create_event_source_mapping", {"FunctionName": "echo", "EventSourceArn": "arn:aws:sqs:us-east-1:0:q"},
         "CreateEventSourceMapping", "declare the trigger under the function's events"),
        ("invoke_async", {"FunctionName": "echo", "InvokeArgs": b"{}"}, "InvokeAsync",
         'call invoke with InvocationType="Event"'),
        ("invoke_with_response_stream", {"FunctionName": "echo", "Payload": b"{}"}, "InvokeWithResponseStream",
         "call invoke, which returns the whole payload"),
    ],
)
def test_other_operations_say_what_instead(
    client: Any, operation: str, arguments: dict[str, Any], named: str, hint: str
) -> None:
    with pytest.raises(ClientError) as raised:
        getattr(client, operation)(**arguments)

    message = raised.value.response["Error"]["Message"]
    assert named in message
    assert hint in message
    assert "squall deploy`, and publish" not in message


def test_empty_qualifier_rejected(app: Any) -> None:
    # boto3 refuses an empty Qualifier itself, so only raw HTTP reaches the server with one.
    answer = httpx.post(f"{app.endpoint}/2015-03-31/functions/echo/invocations?Qualifier=", content=b"{}", timeout=20)

    assert answer.status_code == 400
    assert answer.headers["x-amzn-errortype"] == "ValidationException"
    # The empty value also fails the pattern, whose alternatives each need a character.
    assert answer.json()["message"].startswith(
        "2 validation errors detected: Value '' at 'qualifier' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1; "
    )
