"""How a running gateway responds to each way an invocation ends, with API Gateway's status codes and headers.

Routes under /rest are REST API (payload 1.0) routes; the others are HTTP API
(payload 2.0) routes of the same functions (apps/outcomes).
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from live_gateway import LiveGateway, StartGateway
from squall.gateway import apigw_common
from squall.manifest.spec import ApiType
from squall.metering.records import InvocationRecord, Outcome

REST_ERROR = (502, {"message": "Internal server error"})
HTTP_API_ERROR = (500, {"message": "Internal Server Error"})
# How long a test waits for a record the dispatcher writes after the response.
RECORD_WAIT_S = 15.0
# The integration timeout that replaces API Gateway's 29 and 30 s in tests.
# The finish_late function sleeps longer than this.
SHORT_INTEGRATION_TIMEOUT_S = 0.5
LATE_FUNCTION_S = 2.0
# Lambda's 6 MB limit on a synchronous request, plus one byte.
OVERSIZED_BODY = b"x" * (6 * 1024 * 1024 + 1)


@pytest.fixture
async def gateway(start_gateway: StartGateway) -> LiveGateway:
    return await start_gateway("outcomes")


async def wait_for_record(gateway: LiveGateway, request_id: str) -> InvocationRecord | None:
    """Return the dispatcher's record of an invocation once it exists, or None after RECORD_WAIT_S."""
    deadline = time.monotonic() + RECORD_WAIT_S
    while time.monotonic() < deadline:
        for record in gateway.records:
            if record.request_id == request_id:
                return record
        await asyncio.sleep(0.05)
    return None


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/rest/overrun", REST_ERROR), ("/overrun", HTTP_API_ERROR)],
    ids=["payload1", "payload2"],
)
async def test_function_timeout_is_function_error(gateway: LiveGateway, path: str, expected: tuple[int, dict[str, str]]) -> None:
    response = await gateway.client.get(path)

    assert (response.status_code, response.json()) == expected


@pytest.mark.parametrize(
    ("path", "request_id_header", "status", "message"),
    [
        ("/rest/late", "x-amzn-requestid", 504, "Endpoint request timed out"),
        ("/late", "apigw-requestid", 503, "Service Unavailable"),
    ],
    ids=["payload1", "payload2"],
)
async def test_integration_timeout_responds_early(
    gateway: LiveGateway,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    request_id_header: str,
    status: int,
    message: str,
) -> None:
    monkeypatch.setattr(apigw_common, "INTEGRATION_TIMEOUT_REST_S", SHORT_INTEGRATION_TIMEOUT_S)
    monkeypatch.setattr(apigw_common, "INTEGRATION_TIMEOUT_HTTP_API_S", SHORT_INTEGRATION_TIMEOUT_S)

    response = await gateway.client.get(path, params={"seconds": str(LATE_FUNCTION_S)})
    request_id = response.headers[request_id_header]
    finished_before_response = any(record.request_id == request_id for record in gateway.records)
    record = await wait_for_record(gateway, request_id)

    assert response.status_code == status
    assert response.json() == {"message": message}
    assert not finished_before_response
    # The function ran on after the response, and was metered and logged.
    assert record is not None, "the invocation left no record"
    assert record.outcome is Outcome.SUCCESS
    assert record.duration_ms >= LATE_FUNCTION_S * 1000
    assert any(entry.request_id == request_id and "finished after" in entry.text for entry in gateway.logs)


async def test_integration_timeout_defaults() -> None:
    # API Gateway's quotas: REST APIs wait 29 s for an integration, HTTP APIs 30 s.
    assert apigw_common.integration_timeout_s(ApiType.REST) == 29.0
    assert apigw_common.integration_timeout_s(ApiType.HTTP) == 30.0


@pytest.mark.parametrize(
    ("method", "path", "content", "status"),
    [
        ("GET", "/rest/echo", None, 200),
        ("GET", "/rest/fail", None, 502),
        ("GET", "/rest/malformed", None, 502),
        ("GET", "/rest/overrun", None, 502),
        ("GET", "/rest/closed", None, 429),
        ("POST", "/rest/echo", OVERSIZED_BODY, 413),
        ("GET", "/echo", None, 200),
        ("GET", "/fail", None, 500),
        ("GET", "/closed", None, 429),
        ("GET", "/no/such/route", None, 404),
    ],
)
async def test_every_response_names_request(
    gateway: LiveGateway, method: str, path: str, content: bytes | None, status: int
) -> None:
    header = "x-amzn-requestid" if path.startswith("/rest/") else "apigw-requestid"
    other = "apigw-requestid" if header == "x-amzn-requestid" else "x-amzn-requestid"

    response = await gateway.client.request(method, path, content=content)

    assert response.status_code == status
    assert len(response.headers.get_list(header)) == 1
    assert len(response.headers[header]) == 36  # a UUID
    assert other not in response.headers


@pytest.mark.parametrize(("path", "header"), [("/rest/echo", "x-amzn-requestid"), ("/echo", "apigw-requestid")])
async def test_request_id_header_matches_event(gateway: LiveGateway, path: str, header: str) -> None:
    response = await gateway.client.get(path)

    assert response.status_code == 200
    assert response.headers[header] == response.json()["requestContext"]["requestId"]


async def test_rest_not_found_names_request(start_gateway: StartGateway) -> None:
    rest_only = await start_gateway("outcomes", payload="1.0")

    response = await rest_only.client.get("/no/such/route")

    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}
    assert len(response.headers["x-amzn-requestid"]) == 36


@pytest.mark.parametrize(
    ("path", "header", "route_key", "expected"),
    [
        ("/rest/malformed", "x-amzn-requestid", "GET /rest/malformed", "payload 1.0 response"),
        ("/malformed", "apigw-requestid", "GET /malformed", "payload 2.0 response"),
    ],
    ids=["payload1", "payload2"],
)
async def test_invalid_result_warning_names_request(
    gateway: LiveGateway, caplog: pytest.LogCaptureFixture, path: str, header: str, route_key: str, expected: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="squall.gateway"):
        response = await gateway.client.get(path)

    warnings = [record.getMessage() for record in caplog.records if expected in record.getMessage()]
    assert len(warnings) == 1, caplog.text
    assert "function 'malformed'" in warnings[0]
    assert f"route {route_key!r}" in warnings[0]
    assert f"request id {response.headers[header]}" in warnings[0]
    assert "statusCode" in warnings[0]


@pytest.mark.parametrize("prefix", ["", "/rest"], ids=["payload2", "payload1"])
@pytest.mark.parametrize(("code", "content_length"), [(204, None), (205, "0"), (304, None)])
async def test_status_without_content_drops_the_body(
    gateway: LiveGateway, prefix: str, code: int, content_length: str | None
) -> None:
    answer = await gateway.client.get(f"{prefix}/status", params={"code": str(code)})
    # The next request on the same connection reads a clean response.
    following = await gateway.client.get(f"{prefix}/status", params={"code": "200"})

    assert (answer.status_code, answer.content) == (code, b"")
    assert answer.headers.get("content-length") == content_length
    assert (following.status_code, following.text) == (200, "a body the status forbids")


@pytest.mark.parametrize(("prefix", "expected"), [("", HTTP_API_ERROR), ("/rest", REST_ERROR)], ids=["payload2", "payload1"])
async def test_informational_status_is_malformed(
    gateway: LiveGateway, prefix: str, expected: tuple[int, dict[str, str]]
) -> None:
    answer = await gateway.client.get(f"{prefix}/status", params={"code": "101"})

    assert (answer.status_code, answer.json()) == expected


@pytest.mark.parametrize(("prefix", "message"), [("", "Request Entity Too Large"), ("/rest", "Request Too Long")],
                         ids=["payload2", "payload1"])
async def test_binary_body_whose_event_passes_limit_is_refused(gateway: LiveGateway, prefix: str, message: str) -> None:
    # Five MB of binary content is under the body limit, but its base64 in the event is not.
    body = bytes(range(256)) * (5 * 1024 * 4)

    answer = await gateway.client.post(f"{prefix}/echo", content=body, headers={"content-type": "image/png"})

    assert (answer.status_code, answer.json()) == (413, {"message": message})
    # The function never ran.
    assert [record for record in gateway.records if record.function == "echo"] == []
