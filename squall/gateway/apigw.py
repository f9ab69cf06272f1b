"""Translation between HTTP requests and API Gateway Lambda proxy payloads.

The server calls `build_event` to turn a routed request into the event a
function receives, and `map_response` to turn the function's result into the
HTTP response, each for the payload version of the route: "2.0" for an HTTP
API, "1.0" for a REST API or an HTTP API that uses the older format.
`error_response` builds API Gateway's own responses for failures that never
reach, or never come back from, the function, by the type of the route's API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from squall.gateway.apigw_common import (
    MAX_REQUEST_HEAD_BYTES,
    GatewayError,
    HttpResponse,
    RoutedRequest,
    error_response,
    integration_timeout_s,
    request_head_bytes,
    request_id_header,
)
from squall.gateway.apigw_v1 import binary_response_allowed, build_v1_event, map_v1_response
from squall.gateway.apigw_v2 import build_v2_event, map_v2_response
from squall.gateway.router import RouteMatch
from squall.manifest.spec import ApiType

__all__ = [
    "MAX_REQUEST_HEAD_BYTES",
    "GatewayError",
    "HttpResponse",
    "RoutedRequest",
    "binary_response_allowed",
    "build_event",
    "build_v1_event",
    "build_v2_event",
    "error_response",
    "integration_timeout_s",
    "map_response",
    "map_v1_response",
    "map_v2_response",
    "request_head_bytes",
    "request_id_header",
]

_BUILDERS: dict[str, Callable[[dict[str, Any], bytes, RouteMatch, str, int], bytes]] = {
    "1.0": build_v1_event,
    "2.0": build_v2_event,
}


def build_event(scope: dict[str, Any], body: bytes, match: RouteMatch, request_id: str, now_ms: int) -> bytes:
    """Build the event for the payload version of the matched route, as JSON bytes."""
    return _BUILDERS[match.event.payload](scope, body, match, request_id, now_ms)


def map_response(
    payload_version: str,
    payload: bytes,
    request: RoutedRequest | None = None,
    api: ApiType | None = None,
    binary_allowed: bool | None = None,
) -> HttpResponse:
    """Turn a function's result into the HTTP response for the given payload version.

    `request` names the function, route key and request id in the warning
    logged when the result is invalid. `api` is the type of the route's API,
    whose error response an invalid result gets; None means a REST API for
    payload 1.0 (payload 2.0 exists only in HTTP APIs). `binary_allowed` is
    the result of binary_response_allowed for the request, for payload 1.0.
    """
    if payload_version == "2.0":
        return map_v2_response(payload, request)
    if payload_version == "1.0":
        return map_v1_response(payload, request, api or ApiType.REST, binary_allowed)
    raise ValueError(f"invalid payload version {payload_version!r}: expected '1.0' or '2.0'")
