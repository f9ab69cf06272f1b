"""An HTTP API whose routes send payload 1.0 events, on a running gateway (apps/http_api_v1).

The events keep the 1.0 shape, but the gateway's own responses are an HTTP
API's: its status codes and bodies, and the apigw-requestid header.
"""

from __future__ import annotations

import pytest

from live_gateway import LiveGateway, StartGateway
from squall.gateway import apigw_common

# Lambda's 6 MB limit on a synchronous request, plus one byte.
OVERSIZED_BODY = b"x" * (6 * 1024 * 1024 + 1)
# The integration timeout that replaces the HTTP API's 30 s, and how long the
# late function sleeps past it.
SHORT_INTEGRATION_TIMEOUT_S = 0.5
LATE_FUNCTION_S = 2.0


@pytest.fixture
async def gateway(start_gateway: StartGateway) -> LiveGateway:
    return await start_gateway("http_api_v1")


async def test_event_keeps_payload_1_shape(gateway: LiveGateway) -> None:
    response = await gateway.client.get("/echo", params={"tag": "a"})
    event = response.json()

    assert response.status_code == 200
    assert event["version"] == "1.0"
    assert event["httpMethod"] == "GET"
    assert event["multiValueQueryStringParameters"] == {"tag": ["a"]}
    assert event["requestContext"]["stage"] == "$default"
    assert response.headers["apigw-requestid"] == event["requestContext"]["requestId"]
    assert "x-amzn-requestid" not in response.headers


async def test_path_and_parameters_are_decoded(gateway: LiveGateway) -> None:
    event = (await gateway.client.get("/items/a%20b")).json()

    # As for payload 2.0, where a REST API would pass both still encoded.
    assert event["path"] == "/items/a b"
    assert event["pathParameters"] == {"id": "a b"}


@pytest.mark.parametrize(
    ("content_type", "is_base64"),
    [("application/json", False), ("text/plain", False), ("application/octet-stream", True)],
)
async def test_body_encoding_follows_media_type(gateway: LiveGateway, content_type: str, is_base64: bool) -> None:
    response = await gateway.client.post("/echo", content=b'{"a": 1}', headers={"content-type": content_type})
    event = response.json()

    assert event["isBase64Encoded"] is is_base64
    assert event["body"] == ("eyJhIjogMX0=" if is_base64 else '{"a": 1}')


@pytest.mark.parametrize(
    ("method", "path", "content", "status", "message"),
    [
        ("GET", "/fail", None, 500, "Internal Server Error"),
        ("GET", "/malformed", None, 500, "Internal Server Error"),
        ("GET", "/closed", None, 429, "Too Many Requests"),
        ("POST", "/echo", OVERSIZED_BODY, 413, "Request Entity Too Large"),
        ("GET", "/no/such/route", None, 404, "Not Found"),
    ],
    ids=["handler-error", "malformed-result", "throttled", "body-too-large", "no-route"],
)
async def test_errors_are_http_api_responses(
    gateway: LiveGateway, method: str, path: str, content: bytes | None, status: int, message: str
) -> None:
    response = await gateway.client.request(method, path, content=content)

    assert response.status_code == status
    assert response.json() == {"message": message}
    assert len(response.headers["apigw-requestid"]) == 36  # a UUID
    assert "x-amzn-requestid" not in response.headers


async def test_integration_timeout_is_http_api_503(gateway: LiveGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(apigw_common, "INTEGRATION_TIMEOUT_HTTP_API_S", SHORT_INTEGRATION_TIMEOUT_S)
    # A REST API's timeout stays long, so a 503 can only come from the HTTP API's.
    monkeypatch.setattr(apigw_common, "INTEGRATION_TIMEOUT_REST_S", 60.0)

    response = await gateway.client.get("/late", params={"seconds": str(LATE_FUNCTION_S)})

    assert response.status_code == 503
    assert response.json() == {"message": "Service Unavailable"}
    assert "apigw-requestid" in response.headers
