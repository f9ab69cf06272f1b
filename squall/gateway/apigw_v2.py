"""API Gateway HTTP API translation: payload format 2.0 events and responses.

The event follows the HTTP API developer guide ("Create AWS Lambda proxy
integrations for HTTP APIs"). Header names are lower-case, and repeated
headers and query parameters are joined by commas. Cookies go in their own
list. `pathParameters`, `stageVariables`, `cookies`, `queryStringParameters`
and `body` are left out when there is nothing to send.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from squall.gateway.apigw_common import (
    ACCOUNT_ID,
    API_ID,
    JSON_CONTENT_TYPE,
    STAGE,
    GatewayError,
    HttpResponse,
    MalformedResponse,
    RoutedRequest,
    describe_request,
    body_as_text_v2,
    decode_body,
    domain_name,
    error_response,
    finish_response,
    format_request_time,
    header_name,
    header_value,
    parse_query,
    read_headers,
    source_ip,
    status_code,
)
from squall.gateway.router import RouteMatch
from squall.manifest.spec import ApiType

logger = logging.getLogger(__name__)


def build_v2_event(
    scope: dict[str, Any], body: bytes, match: RouteMatch, request_id: str, now_ms: int
) -> bytes:
    """Build the payload 2.0 event for one request, serialised as JSON bytes.

    `scope` is the ASGI HTTP scope, `body` the whole request body, and
    `now_ms` the time the request arrived, in Unix epoch milliseconds.
    """
    header_values = read_headers(scope)
    cookie_headers = header_values.pop("cookie", None)
    headers = {name: ",".join(values) for name, values in header_values.items()}

    raw_query = scope.get("query_string") or b""
    # HTTP APIs pass the path percent-decoded, both in rawPath and http.path.
    path = scope["path"]
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route_key,
        "rawPath": path,
        "rawQueryString": raw_query.decode("latin-1"),
    }

    if cookie_headers:
        cookies = [
            cookie.strip() for header in cookie_headers for cookie in header.split(";") if cookie.strip()
        ]
        if cookies:
            event["cookies"] = cookies
    event["headers"] = headers

    query = parse_query(raw_query)
    if query:
        event["queryStringParameters"] = {key: ",".join(values) for key, values in query.items()}

    domain = domain_name(header_values, scope)
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": domain,
        "domainPrefix": domain.partition(".")[0],
        "http": {
            "method": scope["method"],
            "path": path,
            "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
            "sourceIp": source_ip(scope),
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": match.route_key,
        "stage": match.event.stage or STAGE,
        "time": format_request_time(now_ms),
        "timeEpoch": now_ms,
    }

    if match.path_parameters is not None:
        event["pathParameters"] = match.path_parameters

    text, is_base64 = body_as_text_v2(body, headers.get("content-type"))
    if text is not None:
        event["body"] = text
    event["isBase64Encoded"] = is_base64
    return orjson.dumps(event)


def map_v2_response(payload: bytes, request: RoutedRequest | None = None) -> HttpResponse:
    """Turn a function's result into the HTTP response an HTTP API (payload 2.0) sends.

    A JSON object with a `statusCode` key is read as a proxy response:
    statusCode, headers, cookies (one Set-Cookie header each), body and
    isBase64Encoded. Any other valid JSON result becomes a 200
    application/json response whose body is the result's JSON text unchanged,
    so a returned string keeps its quotes, as the Lambda function URL guide
    shows for the same format. Invalid JSON, or a proxy response with a field
    of the wrong type, is a 500.

    A warning about an invalid result names the function, route key and
    request id of `request`.
    """
    try:
        result = orjson.loads(payload)
    except orjson.JSONDecodeError as error:
        logger.warning(
            "function result is not valid JSON (%s); returning 500 (%s)", error, describe_request(request)
        )
        return error_response(GatewayError.MALFORMED_RESPONSE, ApiType.HTTP)

    if not isinstance(result, dict) or "statusCode" not in result:
        return HttpResponse(200, [JSON_CONTENT_TYPE, (b"content-length", str(len(payload)).encode())], payload)

    try:
        return _map_proxy_response(result)
    except MalformedResponse as error:
        logger.warning(
            "function result is not a valid payload 2.0 response: %s; returning 500 (%s)",
            error,
            describe_request(request),
        )
        return error_response(GatewayError.MALFORMED_RESPONSE, ApiType.HTTP)


def _map_proxy_response(result: dict[str, Any]) -> HttpResponse:
    status = status_code(result)
    headers: list[tuple[str, str]] = []

    raw_headers = result.get("headers")
    if raw_headers is not None:
        if not isinstance(raw_headers, dict):
            raise MalformedResponse(f"headers: expected an object, got {type(raw_headers).__name__}")
        for name, value in raw_headers.items():
            headers.append((header_name(name), header_value(name, value)))

    # Payload 2.0 has no multiValueHeaders, so an HTTP API ignores that key.
    cookies = result.get("cookies")
    if cookies is not None:
        if not isinstance(cookies, list):
            raise MalformedResponse(f"cookies: expected a list of strings, got {type(cookies).__name__}")
        for cookie in cookies:
            if not isinstance(cookie, str):
                raise MalformedResponse(f"cookies: expected a list of strings, got an item {cookie!r}")
            headers.append(("set-cookie", header_value("set-cookie", cookie)))

    return finish_response(status, headers, decode_body(result))
