"""The CORS headers the gateway builds, and the routes that carry CORS configurations."""

from __future__ import annotations

import pytest

from squall.gateway.apigw_common import (
    HttpResponse,
    add_http_api_cors_headers,
    allowed_origin,
    http_api_preflight_response,
    rest_preflight_response,
)
from squall.gateway.router import Router
from squall.manifest.spec import ApiType, CorsConfig, HttpEvent

ORIGIN = "https://app.example"
LISTED = CorsConfig(allow_origins=(ORIGIN,), allow_headers=("x-token",), allow_methods=("GET",), max_age_s=-1)


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [("https://app.example", True), ("https://a.b.example:8443", True), ("http://app.example", False), ("https://", False)],
)
def test_allowed_origin_scheme_wildcard(origin: str, allowed: bool) -> None:
    cors = CorsConfig(allow_origins=("https://*",))

    assert allowed_origin(cors, origin) == (origin if allowed else None)


def test_allowed_origin_any_and_listed() -> None:
    assert allowed_origin(CorsConfig(), "https://x.example") == "*"
    assert allowed_origin(LISTED, "HTTPS://APP.EXAMPLE") == "HTTPS://APP.EXAMPLE"
    assert allowed_origin(LISTED, "https://other.example") is None


def test_http_api_preflight_headers() -> None:
    response = http_api_preflight_response(LISTED, ORIGIN)

    assert response.status == 204
    assert response.body == b""
    assert response.headers == [
        (b"access-control-allow-origin", ORIGIN.encode()),
        (b"access-control-allow-methods", b"GET"),
        (b"access-control-allow-headers", b"x-token"),
        (b"access-control-max-age", b"-1"),
    ]


def test_http_api_response_headers_replaced() -> None:
    response = HttpResponse(200, [(b"content-type", b"text/plain"), (b"access-control-allow-origin", b"*")], b"ok")
    cors = CorsConfig(allow_origins=(ORIGIN,), allow_credentials=True, expose_headers=("x-total", "date"))

    add_http_api_cors_headers(response, cors, ORIGIN)

    assert response.headers == [
        (b"content-type", b"text/plain"),
        (b"access-control-allow-origin", ORIGIN.encode()),
        (b"access-control-allow-credentials", b"true"),
        (b"access-control-expose-headers", b"x-total,date"),
    ]


def test_rest_preflight_wildcard_origin() -> None:
    cors = CorsConfig(allow_origins=("https://*.example.com", ORIGIN), allow_methods=("OPTIONS", "GET"))

    matched = rest_preflight_response(cors, "https://shop.example.com")
    unmatched = rest_preflight_response(cors, "https://example.org")

    assert matched.status == 200
    assert matched.headers[0] == (b"access-control-allow-origin", b"https://shop.example.com")
    assert unmatched.headers[0] == (b"access-control-allow-origin", b"https://*.example.com")


def test_router_fills_http_api_methods() -> None:
    cors = CorsConfig(allow_methods=None)
    router = Router([
        ("a", HttpEvent("GET", "/items", api=ApiType.HTTP, cors=cors)),
        ("b", HttpEvent("ANY", "/other", api=ApiType.HTTP, cors=cors)),
    ])

    match = router.match("GET", "/items")

    assert match is not None
    assert match.cors is not None
    assert match.cors.allow_methods == ("OPTIONS", "GET", "DELETE", "HEAD", "PATCH", "POST", "PUT")
    assert router.http_api_preflight("PUT", "/items") == match.cors
    assert router.http_api_preflight("GET", "/no/route") == match.cors


def test_router_rest_mock_yields_to_options_route() -> None:
    cors = CorsConfig(allow_methods=None)
    with_mock = Router([("a", HttpEvent("GET", "/items", "1.0", "prod", cors=cors))])
    with_function = Router([
        ("a", HttpEvent("GET", "/items", "1.0", "prod", cors=cors)),
        ("b", HttpEvent("OPTIONS", "/items", "1.0", "prod")),
    ])

    mock = with_mock.match("OPTIONS", "/prod/items")
    options = with_function.match("OPTIONS", "/items")

    assert mock is not None and mock.preflight
    assert mock.cors is not None and mock.cors.allow_methods == ("GET", "OPTIONS")
    assert options is not None and not options.preflight
    assert options.function == "b"
    # A REST route itself carries no configuration: its function sets the headers.
    assert with_mock.match("GET", "/items").cors is None
