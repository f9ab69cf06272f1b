"""API Gateway REST API translation: payload format 1.0 events and responses.

The event follows the REST API Lambda proxy input format: `headers` with the
last value of each header and `multiValueHeaders` with all of them, the same
pair for query parameters, and null for every map that has no entries.
A route with a stage (the REST routes of serverless.yml and SAM) names it
in `requestContext.stage` and leads `requestContext.path` with it, as a REST
API does; the request may name it too ("/prod/items"), as the API's invoke URL
does. Other routes have the stage "$default", as in the payload 1.0 example
of the HTTP API developer guide, and no stage prefix.

A REST route base64-encodes request bodies and decodes base64 responses by
its API's binaryMediaTypes ("Binary media types for REST APIs in API
Gateway", API Gateway developer guide). A body whose Content-Type matches
reaches the function base64-encoded. A result with isBase64Encoded true goes
out as binary only when the request's first Accept media type matches, and
as the base64 text otherwise.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from squall.gateway.apigw_common import (
    ACCOUNT_ID,
    API_ID,
    STAGE,
    GatewayError,
    HttpResponse,
    MalformedResponse,
    RoutedRequest,
    describe_request,
    body_as_text_v1,
    body_as_text_v2,
    decode_body,
    domain_name,
    error_response,
    finish_response,
    first_accept_media_type,
    format_request_time,
    header_name,
    header_value,
    is_binary_media_type,
    parse_query,
    read_headers,
    source_ip,
    status_code,
)
from squall.gateway.http import header
from squall.gateway.router import RouteMatch
from squall.manifest.spec import ApiType

logger = logging.getLogger(__name__)


def binary_response_allowed(scope: dict[str, Any], match: RouteMatch) -> bool:
    """Tell whether a REST route may send a binary response body for this request.

    As a REST API decides it: the first media type of the request's first
    Accept header must match one of the route's binaryMediaTypes. An HTTP API
    always may.
    """
    if match.event.api is ApiType.HTTP:
        return True
    binary_media_types = match.event.binary_media_types
    if not binary_media_types:
        return False
    accept = header(scope, b"accept")
    return is_binary_media_type(first_accept_media_type(accept.decode("latin-1") if accept else None), binary_media_types)


def build_v1_event(
    scope: dict[str, Any], body: bytes, match: RouteMatch, request_id: str, now_ms: int
) -> bytes:
    """Build the payload 1.0 event for one request, serialised as JSON bytes.

    `scope` is the ASGI HTTP scope, `body` the whole request body, and
    `now_ms` the time the request arrived, in Unix epoch milliseconds.
    Header names are lower-case because ASGI servers deliver them so; a REST
    API would keep the client's spelling.
    """
    multi_headers = read_headers(scope)
    headers = {name: values[-1] for name, values in multi_headers.items()}

    query = parse_query(scope.get("query_string") or b"")
    method = scope["method"]
    domain = domain_name(multi_headers, scope)
    if match.event.api is ApiType.HTTP:
        # An HTTP API sending payload 1.0 events decodes the path and picks
        # base64 bodies by media type, as it does for payload 2.0.
        path = scope["path"]
        text, is_base64 = body_as_text_v2(body, headers.get("content-type"))
    else:
        # REST APIs pass the path still percent-encoded, without the stage.
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        if match.staged_path is not None:
            path = match.staged_path
        binary_media_types = match.event.binary_media_types
        text, is_base64 = body_as_text_v1(body, headers.get("content-type"), binary_media_types)

    event: dict[str, Any] = {
        "version": "1.0",
        "resource": match.resource,
        "path": path,
        "httpMethod": method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {key: values[-1] for key, values in query.items()} if query else None,
        "multiValueQueryStringParameters": query or None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": domain,
            "domainPrefix": domain.partition(".")[0],
            "extendedRequestId": request_id,
            "httpMethod": method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": source_ip(scope),
                "user": None,
                "userAgent": headers.get("user-agent"),
                "userArn": None,
                "clientCert": None,
            },
            # An HTTP API's path already leads with a named stage, as requested.
            "path": path if match.event.stage is None or match.event.api is ApiType.HTTP else f"/{match.event.stage}{path}",
            "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
            "requestId": request_id,
            "requestTime": format_request_time(now_ms),
            "requestTimeEpoch": now_ms,
            "resourceId": None,
            "resourcePath": match.resource,
            "stage": match.event.stage or STAGE,
        },
        "pathParameters": match.path_parameters,
        "stageVariables": None,
        "body": text,
        "isBase64Encoded": is_base64,
    }
    return orjson.dumps(event)


def map_v1_response(
    payload: bytes,
    request: RoutedRequest | None = None,
    api: ApiType = ApiType.REST,
    binary_allowed: bool | None = None,
) -> HttpResponse:
    """Turn a function's result into the HTTP response an API with payload 1.0 sends.

    The result must be a JSON object with an integer statusCode (or its digits as a string). Headers and
    multiValueHeaders are merged as API Gateway documents: a name in both
    keeps the multiValueHeaders values, plus the headers value when it is not
    already among them. An HTTP API documents the same response format for
    payload 1.0 as a REST API. Anything else gets the error response of `api`:
    a REST API's 502 {"message": "Internal server error"}, or an HTTP API's
    500 {"message":"Internal Server Error"}.

    `binary_allowed` tells whether a body with isBase64Encoded true goes out
    decoded (see binary_response_allowed). None means what the API does
    without binaryMediaTypes: an HTTP API decodes it, a REST API does not.

    A warning about an invalid result names the function, route key and
    request id of `request`.
    """
    try:
        result = orjson.loads(payload)
    except orjson.JSONDecodeError as error:
        answer = error_response(GatewayError.MALFORMED_RESPONSE, api)
        logger.warning(
            "function result is not valid JSON (%s); returning %d (%s)", error, answer.status, describe_request(request)
        )
        return answer

    try:
        if not isinstance(result, dict):
            raise MalformedResponse(f"expected a JSON object with a statusCode, got {type(result).__name__}")
        if binary_allowed is None:
            binary_allowed = api is ApiType.HTTP
        return _map_proxy_response(result, binary_allowed)
    except MalformedResponse as error:
        answer = error_response(GatewayError.MALFORMED_RESPONSE, api)
        logger.warning(
            "function result is not a valid payload 1.0 response: %s; returning %d (%s)",
            error,
            answer.status,
            describe_request(request),
        )
        return answer


def _map_proxy_response(result: dict[str, Any], binary_allowed: bool) -> HttpResponse:
    # A REST API takes "201" as well as 201 (checked against AWS by LocalStack's tests).
    status = status_code(result, digits_allowed=True)

    single = result.get("headers")
    if single is not None and not isinstance(single, dict):
        raise MalformedResponse(f"headers: expected an object, got {type(single).__name__}")
    multi = result.get("multiValueHeaders")
    if multi is not None and not isinstance(multi, dict):
        raise MalformedResponse(f"multiValueHeaders: expected an object, got {type(multi).__name__}")

    # Merge by lower-case name, keeping the order names first appear in.
    merged: dict[str, list[str]] = {}
    for name, values in (multi or {}).items():
        if not isinstance(values, list):
            raise MalformedResponse(f"multiValueHeaders: {name!r}: expected a list, got {type(values).__name__}")
        merged.setdefault(header_name(name).lower(), []).extend(header_value(name, value) for value in values)
    for name, value in (single or {}).items():
        text = header_value(name, value)
        values = merged.setdefault(header_name(name).lower(), [])
        if text not in values:
            values.append(text)

    headers = [(name, value) for name, values in merged.items() for value in values]
    return finish_response(status, headers, decode_body(result, binary_allowed))
