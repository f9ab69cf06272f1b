"""A REST route's binaryMediaTypes: which request bodies arrive base64-encoded, and which responses go out as binary."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from squall.gateway.apigw import RoutedRequest, binary_response_allowed, build_v1_event, map_response
from squall.gateway.apigw_common import first_accept_media_type, is_binary_media_type, request_media_type
from squall.gateway.router import RouteMatch, Router
from squall.manifest.spec import ApiType, HttpEvent

REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
NOW_MS = 1583348638390
PNG = b"\x89PNG\r\n\x1a\n\x00\xff"
PNG_RESULT = orjson.dumps(
    {
        "statusCode": 200,
        "headers": {"content-type": "image/png"},
        "body": base64.b64encode(PNG).decode(),
        "isBase64Encoded": True,
    }
)


def scope_of(method: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/image",
        "raw_path": b"/image",
        "query_string": b"",
        "headers": [(b"host", b"localhost"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def route(binary_media_types: tuple[str, ...], payload: str = "1.0", api: ApiType | None = None) -> RouteMatch:
    event = HttpEvent("ANY", "/image", payload, api=api, binary_media_types=binary_media_types)
    match = Router([("image", event)]).match("GET", "/image")
    assert match is not None
    return match


def respond(headers: list[tuple[bytes, bytes]], match: RouteMatch) -> bytes:
    """Map PNG_RESULT as the gateway does for a GET with `headers`, and return the body."""
    allowed = binary_response_allowed(scope_of("GET", headers), match)
    request = RoutedRequest("image", match.route_key, REQUEST_ID)
    return map_response(match.event.payload, PNG_RESULT, request, match.event.api, allowed).body


# --- matching ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("image/png", "image/png"),
        ("image/webp,image/*,*/*;q=0.8", "image/webp"),
        ("image/png;q=0.9, text/html", "image/png"),
        (" Image/PNG ; q=1", "image/png"),
        ("*/*", "*/*"),
        (",image/png", ""),
        # A REST API assumes application/json without the header.
        (None, "application/json"),
    ],
)
def test_first_accept_media_type(accept: str | None, media_type: str) -> None:
    assert first_accept_media_type(accept) == media_type


@pytest.mark.parametrize(
    ("content_type", "media_type"),
    [("image/png", "image/png"), ("Text/Plain; charset=utf-8", "text/plain"), (None, "application/json")],
)
def test_request_media_type(content_type: str | None, media_type: str) -> None:
    assert request_media_type(content_type) == media_type


@pytest.mark.parametrize(
    ("media_type", "binary_media_types", "matches"),
    [
        ("image/png", ("image/png",), True),
        ("image/png", ("IMAGE/PNG",), True),
        ("image/png", ("image/jpeg", "image/png"), True),
        ("image/png", ("image/*",), True),
        ("image/svg+xml", ("image/*",), True),
        ("text/html", ("*/*",), True),
        ("*/*", ("*/*",), True),
        ("application/vnd.ms-excel", ("application/vnd.*",), True),
        # The Accept value's own wildcards match only a listed wildcard.
        ("*/*", ("image/png",), False),
        ("image/*", ("image/png",), False),
        ("image/png", ("image/jpeg",), False),
        ("image/pngx", ("image/png",), False),
        ("image/png", ("image/p.g",), False),
        ("image/png", (), False),
    ],
)
def test_is_binary_media_type(media_type: str, binary_media_types: tuple[str, ...], matches: bool) -> None:
    assert is_binary_media_type(media_type, binary_media_types) is matches


# --- request bodies -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("binary_media_types", "content_type", "body", "is_base64"),
    [
        # Bytes that are valid UTF-8 are still base64-encoded when the media type is listed.
        (("image/png",), b"image/png", b"plain ascii", True),
        (("image/*",), b"image/gif; name=x", b"GIF89a", True),
        (("*/*",), b"application/json", b'{"a": 1}', True),
        (("*/*",), None, b'{"a": 1}', True),
        (("image/png",), b"application/json", b'{"a": 1}', False),
        (("application/octet-stream",), None, b"abc", False),
        ((), b"image/png", b"plain ascii", False),
    ],
)
def test_rest_request_body_base64_by_content_type(
    binary_media_types: tuple[str, ...], content_type: bytes | None, body: bytes, is_base64: bool
) -> None:
    headers = [] if content_type is None else [(b"content-type", content_type)]
    event = orjson.loads(build_v1_event(scope_of("POST", headers), body, route(binary_media_types), REQUEST_ID, NOW_MS))

    assert event["isBase64Encoded"] is is_base64
    assert event["body"] == (base64.b64encode(body).decode() if is_base64 else body.decode())


def test_rest_request_body_not_utf8_stays_intact() -> None:
    # A REST API would pass these bytes on as text. Squall base64-encodes them so that they arrive intact.
    scope = scope_of("POST", [(b"content-type", b"text/plain")])

    event = orjson.loads(build_v1_event(scope, b"\xff\xfe", route(("image/png",)), REQUEST_ID, NOW_MS))

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe"


def test_http_api_payload1_ignores_binary_media_types() -> None:
    # An HTTP API route never has them, and given some anyway, they change nothing.
    scope = scope_of("POST", [(b"content-type", b"application/json")])
    match = route(("*/*",), api=ApiType.HTTP)

    event = orjson.loads(build_v1_event(scope, b'{"a": 1}', match, REQUEST_ID, NOW_MS))

    assert event["isBase64Encoded"] is False


# --- responses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("binary_media_types", "accept", "binary"),
    [
        (("image/png",), b"image/png", True),
        (("image/png",), b"image/png;q=0.9", True),
        (("image/png",), b"image/png, text/html", True),
        (("image/*",), b"image/png", True),
        (("*/*",), b"text/html,application/xhtml+xml,*/*;q=0.8", True),
        (("*/*",), None, True),
        # Only the first Accept value counts, though image/png comes second.
        (("image/png",), b"image/webp,image/png", False),
        (("image/png",), b"*/*", False),
        (("image/png",), None, False),
        ((), b"image/png", False),
    ],
)
def test_rest_response_binary_by_first_accept(
    binary_media_types: tuple[str, ...], accept: bytes | None, binary: bool
) -> None:
    headers = [] if accept is None else [(b"accept", accept)]

    body = respond(headers, route(binary_media_types))

    assert body == (PNG if binary else base64.b64encode(PNG))


def test_rest_response_reads_first_accept_header() -> None:
    headers = [(b"accept", b"image/png"), (b"accept", b"text/html")]

    body = respond(headers, route(("image/png",)))

    assert body == PNG


def test_rest_response_without_a_decision_not_decoded() -> None:
    # As a REST API without binaryMediaTypes does.
    body = map_response("1.0", PNG_RESULT, RoutedRequest("image", "ANY /image", REQUEST_ID)).body

    assert body == base64.b64encode(PNG)


def test_http_api_payload1_response_always_binary() -> None:
    body = respond([(b"accept", b"text/html")], route((), api=ApiType.HTTP))

    assert body == PNG
