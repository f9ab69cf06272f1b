"""AWS SDK clients of services other than Lambda, aimed at a running gateway, get an error that explains why."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from live_gateway import LiveGateway, StartGateway


@pytest.fixture
async def gateway(start_gateway: StartGateway) -> LiveGateway:
    return await start_gateway("http_api_v1")


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 0}),
    )


@pytest.mark.parametrize(
    ("service", "call"),
    [
        ("sqs", lambda client: client.send_message(QueueUrl="http://x/000000000000/orders", MessageBody="m")),
        ("dynamodb", lambda client: client.get_item(TableName="users", Key={"id": {"S": "1"}})),
        ("s3", lambda client: client.get_object(Bucket="uploads", Key="a.txt")),
    ],
    ids=["sqs", "dynamodb", "s3"],
)
async def test_other_service_names_the_sdk(gateway: LiveGateway, service: str, call: Any) -> None:
    client = _client(service, str(gateway.client.base_url))

    with pytest.raises(ClientError) as raised:
        await asyncio.to_thread(call, client)

    message = raised.value.response["Error"]["Message"]
    assert f"does not serve the AWS {service} API" in message
    assert "squall SDK" in message


@pytest.mark.parametrize(
    ("service", "call"),
    [
        ("sns", lambda client: client.publish(TopicArn="arn:aws:sns:us-east-1:000000000000:t", Message="m")),
        ("sts", lambda client: client.get_caller_identity()),
    ],
    ids=["sns", "sts"],
)
async def test_query_protocol_clients_read_the_error(gateway: LiveGateway, service: str, call: Any) -> None:
    client = _client(service, str(gateway.client.base_url))

    with pytest.raises(ClientError) as raised:
        await asyncio.to_thread(call, client)

    message = raised.value.response["Error"]["Message"]
    assert f"does not serve the AWS {service} API" in message
    assert "Squall has no counterpart of it" in message


@pytest.fixture
async def catch_all(start_gateway: StartGateway) -> LiveGateway:
    return await start_gateway("staged")  # has an HTTP API "$default" route


async def test_catch_all_route_does_not_take_other_services(catch_all: LiveGateway) -> None:
    client = _client("dynamodb", str(catch_all.client.base_url))

    with pytest.raises(ClientError) as raised:
        await asyncio.to_thread(client.get_item, TableName="users", Key={"id": {"S": "1"}})

    assert "does not serve the AWS dynamodb API" in raised.value.response["Error"]["Message"]
    assert catch_all.records == []


async def test_catch_all_route_takes_api_gateway_signed_calls(catch_all: LiveGateway) -> None:
    # A call signed for API Gateway itself, as a client of an API with IAM authorization sends it.
    authorization = (
        "AWS4-HMAC-SHA256 Credential=x/20261205/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=0"
    )

    response = await catch_all.client.get("/anything", headers={"authorization": authorization})

    assert response.status_code == 200
