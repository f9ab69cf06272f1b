"""Function results mapped to HTTP responses, and the gateway's own error responses."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from squall.gateway.apigw import (
    GatewayError,
    HttpResponse,
    RoutedRequest,
    error_response,
    map_response,
    map_v1_response,
    map_v2_response,
    request_id_header,
)
from squall.manifest.spec import ApiType

V2_ERROR = (500, b'{"message":"Internal Server Error"}')
V1_ERROR = (502, b'{"message": "Internal server error"}')
PNG = b"\x89PNG\r\n\x1a\n\x00\xff"


def header_list(response: HttpResponse, name: bytes) -> list[bytes]:
    return [value for key, value in response.headers if key == name]


def assert_well_framed(response: HttpResponse) -> None:
    assert header_list(response, b"content-length") == [str(len(response.body)).encode()]
    assert len(header_list(response, b"content-type")) == 1
    assert all(name == name.lower() for name, _ in response.headers)


def encode(result: Any) -> bytes:
    return orjson.dumps(result)


# --- payload 2.0 ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "body"),
    [
        (b'"Hello from Lambda!"', b'"Hello from Lambda!"'),  # a string keeps its JSON quotes
        (b'{"message": "Hello from Lambda!"}', b'{"message": "Hello from Lambda!"}'),
        (b"[1, 2, 3]", b"[1, 2, 3]"),
        (b"42", b"42"),
        (b"null", b"null"),
        (b"true", b"true"),
        (b'{"status": 404, "body": "not a proxy response"}', b'{"status": 404, "body": "not a proxy response"}'),
    ],
)
def test_v2_inferred_response(payload: bytes, body: bytes) -> None:
    response = map_v2_response(payload)

    assert response.status == 200
    assert response.body == body
    assert header_list(response, b"content-type") == [b"application/json"]
    assert_well_framed(response)


@pytest.mark.parametrize(
    ("result", "status", "headers", "body"),
    [
        (
            {"statusCode": 201, "headers": {"Content-Type": "text/plain", "X-Custom": "yes"}, "body": "created"},
            201,
            [(b"content-type", b"text/plain"), (b"x-custom", b"yes")],
            b"created",
        ),
        (
            {"statusCode": 200, "cookies": ["a=1; Path=/", "b=2; Max-Age=60"], "body": "ok"},
            200,
            [(b"set-cookie", b"a=1; Path=/"), (b"set-cookie", b"b=2; Max-Age=60"), (b"content-type", b"application/json")],
            b"ok",
        ),
        (
            {"statusCode": 200, "headers": {"x-n": 5, "x-b": True}, "body": None},
            200,
            [(b"x-n", b"5"), (b"x-b", b"true"), (b"content-type", b"application/json")],
            b"",
        ),
        (
            {
                "statusCode": 200,
                "headers": {"content-type": "image/png"},
                "body": base64.b64encode(PNG).decode(),
                "isBase64Encoded": True,
            },
            200,
            [(b"content-type", b"image/png")],
            PNG,
        ),
        (
            {"statusCode": 500, "body": "caf\u00e9", "isBase64Encoded": False},
            500,
            [(b"content-type", b"application/json")],
            "café".encode(),
        ),
        (
            # Payload 2.0 has no multiValueHeaders; an HTTP API ignores the key.
            {"statusCode": 200, "multiValueHeaders": {"x-many": ["1", "2"]}, "body": "x"},
            200,
            [(b"content-type", b"application/json")],
            b"x",
        ),
        (
            # Framing headers come from the server, not from the function.
            {"statusCode": 200, "headers": {"Content-Length": "999", "Transfer-Encoding": "chunked"}, "body": "abc"},
            200,
            [(b"content-type", b"application/json")],
            b"abc",
        ),
    ],
)
def test_v2_proxy_response(
    result: dict[str, Any], status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    response = map_v2_response(encode(result))

    assert response.status == status
    assert response.body == body
    assert response.headers == [*headers, (b"content-length", str(len(body)).encode())]
    assert_well_framed(response)


@pytest.mark.parametrize(
    ("status", "length_header"), [(204, []), (205, [(b"content-length", b"0")]), (304, [])]
)
def test_v2_status_without_content_drops_the_body(status: int, length_header: list[tuple[bytes, bytes]]) -> None:
    response = map_v2_response(encode({"statusCode": status, "body": "not for this status"}))

    assert (response.status, response.body) == (status, b"")
    assert response.headers == [(b"content-type", b"application/json"), *length_header]


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"",
        b'{"statusCode": "200", "body": "x"}',
        b'{"statusCode": 200.5}',
        b'{"statusCode": true}',
        b'{"statusCode": null}',
        b'{"statusCode": 99}',
        b'{"statusCode": 600}',
        b'{"statusCode": 200, "body": {"a": 1}}',
        b'{"statusCode": 200, "headers": ["a"]}',
        b'{"statusCode": 200, "headers": {"a": {"b": 1}}}',
        b'{"statusCode": 200, "headers": {"bad name": "x"}}',
        b'{"statusCode": 200, "headers": {"x": "a\\r\\nInjected: yes"}}',
        b'{"statusCode": 200, "cookies": "a=1"}',
        b'{"statusCode": 200, "cookies": [1]}',
        b'{"statusCode": 200, "body": "%%%", "isBase64Encoded": true}',
        b'{"statusCode": 200, "body": "x", "isBase64Encoded": "yes"}',
    ],
)
def test_v2_malformed_response_is_500(payload: bytes) -> None:
    response = map_v2_response(payload)

    assert (response.status, response.body) == V2_ERROR
    assert_well_framed(response)


# --- payload 1.0 ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "status", "headers", "body"),
    [
        ({"statusCode": 200, "body": "hello"}, 200, [(b"content-type", b"application/json")], b"hello"),
        ({"statusCode": 302, "headers": {"Location": "/next"}}, 302, [(b"location", b"/next"), (b"content-type", b"application/json")], b""),
        (
            {"statusCode": 200, "headers": {"Content-Type": "text/html"}, "body": "<p>hi</p>", "isBase64Encoded": False},
            200,
            [(b"content-type", b"text/html")],
            b"<p>hi</p>",
        ),
        (
            {"statusCode": 200, "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "body": ""},
            200,
            [(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2"), (b"content-type", b"application/json")],
            b"",
        ),
        (
            # The same pair in both maps appears once.
            {"statusCode": 200, "headers": {"X-Tag": "a"}, "multiValueHeaders": {"x-tag": ["a", "b"]}},
            200,
            [(b"x-tag", b"a"), (b"x-tag", b"b"), (b"content-type", b"application/json")],
            b"",
        ),
        (
            # A headers value missing from multiValueHeaders is merged in.
            {"statusCode": 200, "headers": {"X-Tag": "c"}, "multiValueHeaders": {"X-Tag": ["a"]}},
            200,
            [(b"x-tag", b"a"), (b"x-tag", b"c"), (b"content-type", b"application/json")],
            b"",
        ),
        (
            {"statusCode": 404, "headers": None, "multiValueHeaders": None, "body": None, "isBase64Encoded": None},
            404,
            [(b"content-type", b"application/json")],
            b"",
        ),
        (
            # Payload 1.0 has no cookies key; the REST API ignores it.
            {"statusCode": 200, "cookies": ["a=1"], "body": "x"},
            200,
            [(b"content-type", b"application/json")],
            b"x",
        ),
    ],
)
def test_v1_proxy_response(
    result: dict[str, Any], status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    response = map_v1_response(encode(result))

    assert response.status == status
    assert response.body == body
    assert response.headers == [*headers, (b"content-length", str(len(body)).encode())]
    assert_well_framed(response)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"",
        b'"Hello from Lambda!"',
        b"[]",
        b"null",
        b"200",
        b'{"body": "no status code"}',
        b'{"statusCode": "2OO", "body": "x"}',
        b'{"statusCode": "", "body": "x"}',
        b'{"statusCode": "700", "body": "x"}',
        b'{"statusCode": 200.0}',
        b'{"statusCode": false}',
        b'{"statusCode": 1000}',
        b'{"statusCode": 200, "body": {"a": 1}}',
        b'{"statusCode": 200, "body": 5}',
        b'{"statusCode": 200, "headers": "x"}',
        b'{"statusCode": 200, "multiValueHeaders": {"x": "not a list"}}',
        b'{"statusCode": 200, "multiValueHeaders": ["x"]}',
        b'{"statusCode": 200, "multiValueHeaders": {"x": [{"a": 1}]}}',
        b'{"statusCode": 200, "headers": {"x": "a\\nb"}}',
        b'{"statusCode": 200, "isBase64Encoded": 1}',
    ],
)
def test_v1_malformed_response_is_502(payload: bytes) -> None:
    response = map_v1_response(payload)

    assert (response.status, response.body) == V1_ERROR
    assert_well_framed(response)


@pytest.mark.parametrize(
    ("api", "binary_allowed", "body"),
    [
        (ApiType.REST, True, PNG),
        # A REST API sends the base64 text unless the Accept header matches its binaryMediaTypes.
        (ApiType.REST, False, base64.b64encode(PNG)),
        # No event was built for the request, as for a REST API without binaryMediaTypes.
        (ApiType.REST, None, base64.b64encode(PNG)),
        # An HTTP API with payload 1.0 decodes whatever the Accept header.
        (ApiType.HTTP, None, PNG),
    ],
    ids=["rest-binary-allowed", "rest-binary-not-allowed", "rest-unknown-request", "http-api"],
)
def test_v1_base64_body_decoded_only_when_binary(api: ApiType, binary_allowed: bool | None, body: bytes) -> None:
    result = {
        "statusCode": 200,
        "headers": {"Content-Type": "image/png"},
        "body": base64.b64encode(PNG).decode(),
        "isBase64Encoded": True,
    }

    response = map_v1_response(encode(result), api=api, binary_allowed=binary_allowed)

    assert response.status == 200
    assert response.body == body
    assert header_list(response, b"content-type") == [b"image/png"]
    assert_well_framed(response)


def test_v1_invalid_base64_is_502_only_when_decoded() -> None:
    payload = b'{"statusCode": 200, "body": "###", "isBase64Encoded": true}'

    decoded = map_v1_response(payload, binary_allowed=True)
    passed_on = map_v1_response(payload, binary_allowed=False)

    assert (decoded.status, decoded.body) == V1_ERROR
    # Not decoded, the body is passed on as the text it is.
    assert (passed_on.status, passed_on.body) == (200, b"###")


@pytest.mark.parametrize("value", ["café", "vålue ✓"])
def test_header_values_sent_as_utf8(value: str) -> None:
    payload = orjson.dumps({"statusCode": 200, "headers": {"x-text": value}, "body": ""})

    for response in (map_v1_response(payload), map_v2_response(payload)):
        assert (b"x-text", value.encode()) in response.headers


def test_v1_status_code_may_be_digits() -> None:
    # A REST API accepts the status as a string; an HTTP API's 2.0 mapping does not.
    response = map_v1_response(b'{"statusCode": "201", "body": "made"}')

    assert (response.status, response.body) == (201, b"made")


# --- dispatch and gateway errors ----------------------------------------------------


@pytest.mark.parametrize(
    ("version", "payload", "status"),
    [("2.0", b'"x"', 200), ("1.0", b'"x"', 502), ("1.0", b'{"statusCode": 201}', 201)],
)
def test_map_response_dispatch(version: str, payload: bytes, status: int) -> None:
    assert map_response(version, payload).status == status


def test_map_response_invalid_version() -> None:
    with pytest.raises(ValueError, match="invalid payload version '3.0'"):
        map_response("3.0", b"{}")


@pytest.mark.parametrize(
    ("kind", "api", "status", "message"),
    [
        (GatewayError.NOT_FOUND, ApiType.HTTP, 404, "Not Found"),
        (GatewayError.FUNCTION_ERROR, ApiType.HTTP, 500, "Internal Server Error"),
        (GatewayError.MALFORMED_RESPONSE, ApiType.HTTP, 500, "Internal Server Error"),
        (GatewayError.INTEGRATION_TIMEOUT, ApiType.HTTP, 503, "Service Unavailable"),
        (GatewayError.THROTTLED, ApiType.HTTP, 429, "Too Many Requests"),
        (GatewayError.PAYLOAD_TOO_LARGE, ApiType.HTTP, 413, "Request Entity Too Large"),
        (GatewayError.NOT_FOUND, ApiType.REST, 403, "Missing Authentication Token"),
        (GatewayError.FUNCTION_ERROR, ApiType.REST, 502, "Internal server error"),
        (GatewayError.MALFORMED_RESPONSE, ApiType.REST, 502, "Internal server error"),
        (GatewayError.INTEGRATION_TIMEOUT, ApiType.REST, 504, "Endpoint request timed out"),
        (GatewayError.THROTTLED, ApiType.REST, 429, "Too Many Requests"),
        (GatewayError.PAYLOAD_TOO_LARGE, ApiType.REST, 413, "Request Too Long"),
        (GatewayError.URL_TOO_LONG, ApiType.REST, 414, "Request-URI Too Long"),
    ],
)
def test_error_response(kind: GatewayError, api: ApiType, status: int, message: str) -> None:
    response = error_response(kind, api)

    assert response.status == status
    assert orjson.loads(response.body) == {"message": message}
    assert header_list(response, b"content-type") == [b"application/json"]
    assert_well_framed(response)


def test_error_response_covers_every_kind() -> None:
    for kind in GatewayError:
        for api in ApiType:
            assert error_response(kind, api).status >= 400


def test_error_responses_not_shared() -> None:
    first = error_response(GatewayError.NOT_FOUND, ApiType.HTTP)
    first.headers.append((b"x-extra", b"1"))

    second = error_response(GatewayError.NOT_FOUND, ApiType.HTTP)

    assert (b"x-extra", b"1") not in second.headers


@pytest.mark.parametrize(
    ("api", "name"),
    [(ApiType.REST, b"x-amzn-requestid"), (ApiType.HTTP, b"apigw-requestid")],
)
def test_request_id_header_name(api: ApiType, name: bytes) -> None:
    assert request_id_header(api, "c6af9ac6-7b61-11e6-9a41-93e8deadbeef") == (
        name,
        b"c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    )


@pytest.mark.parametrize(("version", "payload"), [("1.0", b'"not a proxy response"'), ("2.0", b"not json")])
def test_invalid_result_warning_names_request(
    caplog: pytest.LogCaptureFixture, version: str, payload: bytes
) -> None:
    request = RoutedRequest("orders", "GET /orders/{id}", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef")

    with caplog.at_level("WARNING", logger="squall.gateway"):
        map_response(version, payload, request)

    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "function 'orders'" in message
    assert "route 'GET /orders/{id}'" in message
    assert "request id c6af9ac6-7b61-11e6-9a41-93e8deadbeef" in message
