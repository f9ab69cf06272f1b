"""GetFunction, GetFunctionConfiguration and ListFunctions on a running server, driven by boto3."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambda_apps import LiveApp
from recordings import LAMBDA_API_RECORDINGS, matches_template, recording


def recorded_function() -> dict[str, Any]:
    return recording("TestLambdaFunction::test_function_lifecycle", "get_function_response", source=LAMBDA_API_RECORDINGS)


def test_get_function_has_recorded_keys(client: Any) -> None:
    expected = recorded_function()

    response = client.get_function(FunctionName="probe")

    # Squall has no runtime version ARN to give.
    assert set(response["Configuration"]) == set(expected["Configuration"]) - {"RuntimeVersionConfig"}
    assert set(response["Code"]) == set(expected["Code"])


def test_get_function_shows_manifest_settings(client: Any) -> None:
    configuration = client.get_function(FunctionName="probe")["Configuration"]

    assert configuration["FunctionName"] == "probe"
    assert configuration["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:probe"
    assert configuration["Handler"] == "handlers.probe"
    assert (configuration["MemorySize"], configuration["Timeout"]) == (256, 5)
    assert configuration["Environment"] == {"Variables": {"PROBE_SETTING": "from-manifest"}}
    assert configuration["Version"] == "$LATEST"
    assert configuration["Runtime"] == f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert configuration["State"] == "Active"
    assert configuration["CodeSize"] > 0


def test_configuration_equals_get_function(client: Any) -> None:
    whole = client.get_function(FunctionName="echo")["Configuration"]

    configuration = client.get_function_configuration(FunctionName="echo")

    configuration.pop("ResponseMetadata")
    assert configuration == whole


def test_list_functions_names_every_function(app: LiveApp, client: Any) -> None:
    listed = client.list_functions()["Functions"]

    names = [function["FunctionName"] for function in listed]
    assert names == sorted(names)
    assert {"echo", "probe", "tail"} <= set(names)


def test_function_exists_waiter(client: Any) -> None:
    client.get_waiter("function_exists").wait(FunctionName="echo", WaiterConfig={"Delay": 1, "MaxAttempts": 2})


def test_unknown_function_matches_recording(client: Any) -> None:
    expected = recording(
        "TestCodeSigningConfig::test_code_signing_not_found_excs", "get_function_csc_nonexistingfn", source=LAMBDA_API_RECORDINGS
    )

    with pytest.raises(ClientError) as raised:
        client.get_function(FunctionName="doesnotexist")

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == expected["Error"]["Code"] == "ResourceNotFoundException"
    assert matches_template(expected["Error"]["Message"].replace("csc-test-", ""), error["Error"]["Message"])


def test_unknown_qualifier_not_found(client: Any) -> None:
    with pytest.raises(ClientError) as raised:
        client.get_function(FunctionName="echo", Qualifier="nosuchalias")

    error = raised.value.response
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["Error"]["Message"].endswith("function:echo:nosuchalias")
