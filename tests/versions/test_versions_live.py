"""Versions and aliases against a real server: publish, redeploy, and invoke by qualifier with boto3."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from click.testing import CliRunner

from squall import cli_versions

MANIFEST = """\
service: versioned
functions:
  fn:
    handler: app.handler
"""

HANDLER = """\
import os

def handler(event, context):
    return {{"code": {code}, "version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
            "context_version": context.function_version}}
"""


def write_code(folder: Path, code: int) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "squall.yml").write_text(MANIFEST)
    (folder / "app.py").write_text(HANDLER.format(code=code))


def deploy(folder: Path, endpoint: str) -> str:
    """Run `squall deploy` and return its output, stdout then stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "squall", "deploy", str(folder), "--endpoint", endpoint],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def run_cli(command: Any, *args: str) -> str:
    result = CliRunner().invoke(command, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def lambda_client(endpoint: str) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 0}, read_timeout=30, connect_timeout=5),
    )


def invoke(client: Any, qualifier: str) -> tuple[dict[str, Any], str]:
    response = client.invoke(FunctionName="fn", Qualifier=qualifier, Payload=b"{}")
    return orjson.loads(response["Payload"].read()), response["ExecutedVersion"]


@pytest.fixture
def versioned_server(serve: Any, tmp_path: Path) -> Any:
    """A server where fn version 1 runs code 1 and $LATEST runs code 2."""
    folder = tmp_path / "app"
    write_code(folder, 1)
    server = serve(folder, "--no-watch")
    output = run_cli(cli_versions.publish, "fn", "--description", "first", "--endpoint", server.endpoint)
    assert output.strip() == "published fn version 1"

    write_code(folder, 2)
    deploy(folder, server.endpoint)
    return server


def test_qualifiers_select_code(versioned_server: Any) -> None:
    client = lambda_client(versioned_server.endpoint)

    body, executed = invoke(client, "1")
    assert body == {"code": 1, "version": "1", "context_version": "1"}
    assert executed == "1"

    body, executed = invoke(client, "$LATEST")
    assert body == {"code": 2, "version": "$LATEST", "context_version": "$LATEST"}
    assert executed == "$LATEST"


def test_alias_moves_and_rolls_back(versioned_server: Any) -> None:
    endpoint = versioned_server.endpoint
    client = lambda_client(endpoint)
    assert run_cli(cli_versions.publish, "fn", "--endpoint", endpoint).strip() == "published fn version 2"
    again = run_cli(cli_versions.publish, "fn", "--description", "ignored", "--endpoint", endpoint).strip()
    assert again == "fn is unchanged since version 2, which stays as published"

    run_cli(cli_versions.set_command, "fn", "live", "1", "--endpoint", endpoint)
    assert invoke(client, "live") == ({"code": 1, "version": "1", "context_version": "1"}, "1")

    run_cli(cli_versions.set_command, "fn", "live", "2", "--endpoint", endpoint)
    assert invoke(client, "live") == ({"code": 2, "version": "2", "context_version": "2"}, "2")

    run_cli(cli_versions.set_command, "fn", "live", "1", "--endpoint", endpoint)
    assert invoke(client, "live")[1] == "1"

    listing = run_cli(cli_versions.ls_command, "fn", "--endpoint", endpoint)
    assert "live" in listing
    versions = run_cli(cli_versions.versions, "fn", "--endpoint", endpoint)
    assert "first" in versions


@pytest.mark.parametrize("qualifier", ["7", "staging"])
def test_unknown_qualifier_is_not_found(versioned_server: Any, qualifier: str) -> None:
    client = lambda_client(versioned_server.endpoint)
    with pytest.raises(ClientError) as caught:
        client.invoke(FunctionName="fn", Qualifier=qualifier, Payload=b"{}")

    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["Error"]["Message"] == f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:fn:{qualifier}"


def test_alias_rejects_invalid_weight(versioned_server: Any) -> None:
    result = CliRunner().invoke(
        cli_versions.set_command, ["fn", "live", "1", "--weight", "2=0.5", "--endpoint", versioned_server.endpoint]
    )
    assert result.exit_code == 1
    assert "has no version 2; its versions are $LATEST, 1" in result.output


@pytest.mark.parametrize(
    ("weight", "message"),
    [("$LATEST=0.3", "$LATEST cannot take a share of an alias's calls"), ("2", "'2' is invalid: expected VERSION=FRACTION")],
)
def test_bad_weight_usage_error(versioned_server: Any, weight: str, message: str) -> None:
    result = CliRunner().invoke(
        cli_versions.set_command, ["fn", "live", "1", "--weight", weight, "--endpoint", versioned_server.endpoint]
    )

    assert result.exit_code == 2
    assert message in result.output


def test_unknown_function_suggests_closest(versioned_server: Any) -> None:
    result = CliRunner().invoke(cli_versions.publish, ["fnn", "--endpoint", versioned_server.endpoint])
    removal = CliRunner().invoke(cli_versions.rm_command, ["fnn", "live", "--endpoint", versioned_server.endpoint])

    assert result.exit_code == 1
    assert "function not found: 'fnn' (did you mean 'fn'?); deploy it first" in result.output
    assert removal.exit_code == 1
    assert "function not found: 'fnn' (did you mean 'fn'?)" in removal.output


def test_alias_of_unknown_function_not_found(versioned_server: Any) -> None:
    result = CliRunner().invoke(cli_versions.set_command, ["nosuch", "live", "1", "--endpoint", versioned_server.endpoint])

    assert result.exit_code == 1
    assert "function not found: 'nosuch'" in result.output


def test_alias_rm_keeps_version(versioned_server: Any) -> None:
    endpoint = versioned_server.endpoint
    run_cli(cli_versions.set_command, "fn", "live", "1", "--endpoint", endpoint)

    output = run_cli(cli_versions.rm_command, "fn", "live", "--endpoint", endpoint)
    again = CliRunner().invoke(cli_versions.rm_command, ["fn", "live", "--endpoint", endpoint])

    assert output.strip() == "deleted alias live of fn, which pointed at version 1"
    with pytest.raises(ClientError) as caught:
        lambda_client(endpoint).invoke(FunctionName="fn", Qualifier="live", Payload=b"{}")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert invoke(lambda_client(endpoint), "1")[1] == "1"
    assert again.exit_code == 1
    assert "function 'fn' has no alias 'live'; its aliases: none" in again.output


def test_alias_rm_rejects_used_alias(serve: Any, tmp_path: Path) -> None:
    folder = tmp_path / "routed"
    folder.mkdir()
    (folder / "squall.yml").write_text(ROUTED)
    (folder / "app.py").write_text("def handler(event, context):\n    return context.function_version\n")
    server = serve(folder, "--no-watch")
    run_cli(cli_versions.publish, "web", "--endpoint", server.endpoint)
    run_cli(cli_versions.set_command, "web", "live", "1", "--endpoint", server.endpoint)

    result = CliRunner().invoke(cli_versions.rm_command, ["web", "live", "--endpoint", server.endpoint])

    assert result.exit_code == 1
    assert "alias 'live' of 'web' is used by route GET /live" in result.output
    assert "live" in run_cli(cli_versions.ls_command, "web", "--endpoint", server.endpoint)


def test_boto3_lists_versions_aliases(versioned_server: Any) -> None:
    endpoint = versioned_server.endpoint
    client = lambda_client(endpoint)
    run_cli(cli_versions.publish, "fn", "--description", "second", "--endpoint", endpoint)
    run_cli(cli_versions.set_command, "fn", "live", "1", "--weight", "2=0.25", "--endpoint", endpoint)

    versions = client.list_versions_by_function(FunctionName="fn")["Versions"]
    everything = client.list_functions(FunctionVersion="ALL")["Functions"]
    plain = client.list_functions()["Functions"]
    aliases = client.list_aliases(FunctionName="fn")["Aliases"]
    alias = client.get_alias(FunctionName="fn", Name="live")
    with pytest.raises(ClientError) as missing:
        client.get_alias(FunctionName="fn", Name="beta")

    assert [(v["Version"], v["Description"]) for v in versions] == [("$LATEST", ""), ("1", "first"), ("2", "second")]
    assert versions[1]["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:fn:1"
    assert [f["Version"] for f in everything if f["FunctionName"] == "fn"] == ["$LATEST", "1", "2"]
    assert [f["Version"] for f in plain if f["FunctionName"] == "fn"] == ["$LATEST"]
    assert [(a["Name"], a["FunctionVersion"]) for a in aliases] == [("live", "1")]
    assert alias["AliasArn"] == "arn:aws:lambda:us-east-1:000000000000:function:fn:live"
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # Lambda's CodeSha256 is a base64 SHA-256: 44 characters.
    assert len(versions[0]["CodeSha256"]) == 44
    assert client.get_function(FunctionName="fn", Qualifier="2")["Configuration"]["Description"] == "second"
    assert client.list_aliases(FunctionName="fn", FunctionVersion="1")["Aliases"][0]["Name"] == "live"
    assert client.list_aliases(FunctionName="fn", FunctionVersion="2")["Aliases"] == []


def test_list_operations_page_max_items(versioned_server: Any) -> None:
    client = lambda_client(versioned_server.endpoint)
    run_cli(cli_versions.publish, "fn", "--endpoint", versioned_server.endpoint)

    first = client.list_versions_by_function(FunctionName="fn", MaxItems=2)
    rest = client.list_versions_by_function(FunctionName="fn", MaxItems=2, Marker=first["NextMarker"])
    pages = client.get_paginator("list_versions_by_function").paginate(
        FunctionName="fn", PaginationConfig={"PageSize": 1}
    )
    with pytest.raises(ClientError) as too_many:
        client.list_functions(MaxItems=20000)

    assert [v["Version"] for v in first["Versions"]] == ["$LATEST", "1"]
    assert [v["Version"] for v in rest["Versions"]] == ["2"]
    assert "NextMarker" not in rest
    assert [[v["Version"] for v in page["Versions"]] for page in pages] == [["$LATEST"], ["1"], ["2"]]
    assert too_many.value.response["Error"]["Code"] == "ValidationException"


def test_weighted_alias_describes_main_version(versioned_server: Any) -> None:
    endpoint = versioned_server.endpoint
    client = lambda_client(endpoint)
    run_cli(cli_versions.publish, "fn", "--endpoint", endpoint)
    run_cli(cli_versions.set_command, "fn", "live", "1", "--weight", "2=0.5", "--endpoint", endpoint)

    described = [client.get_function_configuration(FunctionName="fn", Qualifier="live") for _ in range(12)]
    whole = client.get_function(FunctionName="fn", Qualifier="live")["Configuration"]

    # As Lambda's GetFunction of an alias: its main version, under the alias's ARN.
    assert {configuration["Version"] for configuration in described} == {"1"}
    assert whole["Version"] == "1"
    assert whole["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:fn:live"
    assert whole["Description"] == "first"


def test_numeric_alias_name_is_invalid_parameter(versioned_server: Any) -> None:
    result = CliRunner().invoke(cli_versions.set_command, ["fn", "5", "1", "--endpoint", versioned_server.endpoint])

    assert result.exit_code == 1
    assert "InvalidParameterValueException: alias name '5' is invalid" in result.output


def test_publish_rejects_long_description(versioned_server: Any) -> None:
    result = CliRunner().invoke(
        cli_versions.publish, ["fn", "--description", "x" * 257, "--endpoint", versioned_server.endpoint]
    )

    assert result.exit_code == 1
    assert "description is 257 characters long, at most 256 are allowed" in result.output


ROUTED = """\
service: routed
functions:
  web:
    handler: app.handler
    events:
      - http: {method: GET, path: /latest}
      - http: {method: GET, path: /live, qualifier: live}
"""


def test_route_follows_alias(serve: Any, tmp_path: Path) -> None:
    import httpx

    folder = tmp_path / "routed"
    folder.mkdir()
    (folder / "squall.yml").write_text(ROUTED)
    (folder / "app.py").write_text(HANDLER.format(code=1))
    server = serve(folder, "--no-watch")
    missing_alias = httpx.get(server.endpoint + "/live", timeout=20)
    run_cli(cli_versions.publish, "web", "--endpoint", server.endpoint)
    run_cli(cli_versions.set_command, "web", "live", "1", "--endpoint", server.endpoint)
    (folder / "app.py").write_text(HANDLER.format(code=2))
    deploy(folder, server.endpoint)

    live = httpx.get(server.endpoint + "/live", timeout=20).json()
    latest = httpx.get(server.endpoint + "/latest", timeout=20).json()

    assert (missing_alias.status_code, missing_alias.json()) == (500, {"message": "Internal Server Error"})
    assert live == {"code": 1, "version": "1", "context_version": "1"}
    assert latest["code"] == 2


def test_versions_of_unknown_function_not_found(versioned_server: Any) -> None:
    result = CliRunner().invoke(cli_versions.versions, ["nosuch", "--endpoint", versioned_server.endpoint])

    assert result.exit_code == 1
    assert "function not found: 'nosuch'" in result.output
