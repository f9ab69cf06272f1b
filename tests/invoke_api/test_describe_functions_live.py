"""GetFunction, GetFunctionConfiguration and ListFunctions on a running server, driven by boto3."""

from __future__ import annotations

import io
import re
import sys
import urllib.error
import urllib.request
import zipfile
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

    assert set(response["Configuration"]) == set(expected["Configuration"])
    assert set(response["Code"]) == set(expected["Code"])


def test_list_functions_has_recorded_keys(client: Any) -> None:
    expected = recording("TestLambdaFunction::test_list_functions", "list_default", source=LAMBDA_API_RECORDINGS)

    listed = client.list_functions()["Functions"]

    # A list leaves out State, LastUpdateStatus and RuntimeVersionConfig, as Lambda's does.
    assert {key for function in listed for key in function} == set(expected["Functions"][0])
    assert all(function["FunctionArn"].endswith(f":function:{function['FunctionName']}") for function in listed)


def test_list_all_qualifies_latest_arn(client: Any) -> None:
    listed = client.list_functions(FunctionVersion="ALL")["Functions"]

    arns = {function["FunctionArn"] for function in listed if function["FunctionName"] == "echo"}
    assert arns == {"arn:aws:lambda:us-east-1:000000000000:function:echo:$LATEST"}


def test_list_functions_rejects_bad_version(client: Any) -> None:
    expected = recording(
        "TestLambdaFunction::test_list_functions", "list_functions_invalid_functionversion", source=LAMBDA_API_RECORDINGS
    )

    with pytest.raises(ClientError) as raised:
        client.list_functions(FunctionVersion="invalid")

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"] == expected["Error"]


def test_explicit_latest_qualifies_arn(client: Any) -> None:
    configuration = client.get_function_configuration(FunctionName="echo", Qualifier="$LATEST")

    assert configuration["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:echo:$LATEST"
    assert configuration["Version"] == "$LATEST"


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


def test_code_location_downloads_zip(client: Any) -> None:
    location = client.get_function(FunctionName="probe")["Code"]["Location"]

    # As Lambda's presigned URL: a plain GET, without credentials, returns the package.
    with urllib.request.urlopen(location, timeout=30) as response:
        package = response.read()
        content_type = response.headers["Content-Type"]

    assert content_type == "application/zip"
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        names = archive.namelist()
    assert "handlers.py" in names
    assert "squall.yml" in names
    assert not any(name.endswith(".pyc") for name in names)


def test_code_location_rejects_changed_url(client: Any) -> None:
    location = client.get_function(FunctionName="probe")["Code"]["Location"]
    other_function = location.replace("/probe/", "/echo/")
    expired = re.sub(r"Expires=\d+", "Expires=1000", location)

    for url in (other_function, expired):
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(url, timeout=30)
        assert denied.value.code == 403
        assert b"<Code>AccessDenied</Code>" in denied.value.read()
