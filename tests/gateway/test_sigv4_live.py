"""AWS SDK clients against a gateway that requires a token: SigV4 with the token as the secret access key."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from live_gateway import StartGateway

TOKEN = "team-token-for-tests"


def lambda_client(endpoint: str, secret: str, region: str = "us-east-1") -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="squall",
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 0}, read_timeout=60),
    )


async def test_signed_with_token_invokes(start_gateway: StartGateway) -> None:
    gateway = await start_gateway("signed", token=TOKEN)
    client = lambda_client(str(gateway.client.base_url), TOKEN)

    answer = await asyncio.to_thread(client.invoke, FunctionName="target", Payload=b'{"n": 1}', Qualifier="$LATEST")
    # An ARN puts percent-encoded colons in the signed path.
    by_arn = await asyncio.to_thread(
        client.invoke, FunctionName="arn:aws:lambda:us-east-1:000000000000:function:target", Payload=b"{}"
    )
    listed = await asyncio.to_thread(client.list_functions, MaxItems=10)

    assert json.loads(answer["Payload"].read()) == {"pong": {"n": 1}}
    assert json.loads(by_arn["Payload"].read()) == {"pong": {}}
    assert {function["FunctionName"] for function in listed["Functions"]} == {"caller", "target"}


async def test_signed_with_wrong_secret_rejected(start_gateway: StartGateway) -> None:
    gateway = await start_gateway("signed", token=TOKEN)
    client = lambda_client(str(gateway.client.base_url), "not-the-token")

    with pytest.raises(ClientError) as raised:
        await asyncio.to_thread(client.invoke, FunctionName="target", Payload=b"{}")

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Code"] == "InvalidSignatureException"
    assert "sign with it as the secret access key" in error["Error"]["Message"]
    assert gateway.records == []


async def test_other_region_named_in_error(start_gateway: StartGateway) -> None:
    gateway = await start_gateway("signed", token=TOKEN)
    client = lambda_client(str(gateway.client.base_url), TOKEN, region="eu-west-1")

    with pytest.raises(ClientError) as raised:
        await asyncio.to_thread(client.invoke, FunctionName="target", Payload=b"{}")

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Code"] == "InvalidSignatureException"
    assert error["Error"]["Message"].startswith("Credential should be scoped to a valid region, not 'eu-west-1'")
    assert 'region_name="us-east-1"' in error["Error"]["Message"]
    assert gateway.records == []


async def test_unsigned_request_names_both_ways(start_gateway: StartGateway) -> None:
    gateway = await start_gateway("signed", token=TOKEN)

    answer = await gateway.client.post("/2015-03-31/functions/target/invocations", content=b"{}")

    assert answer.status_code == 403
    assert "Bearer" in answer.json()["message"]
    assert "secret access key" in answer.json()["message"]


async def test_function_calls_function_with_plain_boto3(start_gateway: StartGateway) -> None:
    gateway = await start_gateway("signed", token=TOKEN)
    client = lambda_client(str(gateway.client.base_url), TOKEN)

    answer = await asyncio.to_thread(client.invoke, FunctionName="caller", Payload=b"{}")

    # Inside an instance, the platform's credentials sign with the token.
    assert "FunctionError" not in answer, answer["Payload"].read()
    assert json.loads(answer["Payload"].read()) == {"pong": {"from": "caller"}}
