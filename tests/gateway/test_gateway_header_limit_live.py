"""API Gateway's 10,240-byte quota on a request without its body, on a running gateway (apps/outcomes).

An HTTP API counts the request line and the header values, a REST API the
header values. Routes under /rest are REST API routes, the others HTTP API
routes. The requests are written on a raw connection, so that the test knows
every byte of the request line and headers.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest

from live_gateway import LiveGateway, StartGateway
from squall.gateway.apigw_common import MAX_REQUEST_HEAD_BYTES, MAX_REST_URL_CHARS

RESPONSE_TIMEOUT_S = 20.0
HTTP_API_TOO_LARGE = (413, {"message": "Request Entity Too Large"})
REST_TOO_LARGE = (413, {"message": "Request Too Long"})
REST_URL_TOO_LONG = (414, {"message": "Request-URI Too Long"})


@pytest.fixture
async def gateway(start_gateway: StartGateway) -> LiveGateway:
    return await start_gateway("outcomes")


async def send_raw(gateway: LiveGateway, line: str, headers: list[tuple[str, str]], body: bytes = b"") -> tuple[int, bytes]:
    """Send one request with exactly this request line and these headers; return the status and body."""
    port = gateway.client.base_url.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = line + "\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
        writer.write(head.encode("latin-1") + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), RESPONSE_TIMEOUT_S)
        length = 0
        while (header := await asyncio.wait_for(reader.readline(), RESPONSE_TIMEOUT_S)) not in (b"\r\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        content = await asyncio.wait_for(reader.readexactly(length), RESPONSE_TIMEOUT_S)
    finally:
        writer.close()
        await writer.wait_closed()
    return int(status_line.split()[1]), content


def filler(counted_line: str, headers: list[tuple[str, str]], total: int) -> str:
    """Return an X-Fill value that brings the counted request line and the header values to `total` bytes."""
    used = len(counted_line) + sum(len(value) for _, value in headers)
    return "f" * (total - used)


def counted_line(path: str, line: str) -> str:
    """Return the part of the request line the quota counts: all of it for an HTTP API, none for a REST API."""
    return "" if path.startswith("/rest/") else line


@pytest.mark.parametrize("path", ["/echo", "/rest/echo"], ids=["http-api", "rest-api"])
async def test_head_at_quota_reaches_function(gateway: LiveGateway, path: str) -> None:
    line = f"GET {path} HTTP/1.1"
    headers = [("Host", "squall.test")]
    headers.append(("X-Fill", filler(counted_line(path, line), headers, MAX_REQUEST_HEAD_BYTES)))

    status, content = await send_raw(gateway, line, headers)

    assert status == 200
    assert len(orjson.loads(content)["headers"]["x-fill"]) > 10_000


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/echo", HTTP_API_TOO_LARGE), ("/rest/echo", REST_TOO_LARGE)],
    ids=["http-api", "rest-api"],
)
async def test_head_one_byte_over_quota(gateway: LiveGateway, path: str, expected: tuple[int, dict[str, str]]) -> None:
    line = f"GET {path} HTTP/1.1"
    headers = [("Host", "squall.test")]
    headers.append(("X-Fill", filler(counted_line(path, line), headers, MAX_REQUEST_HEAD_BYTES + 1)))
    invocations_before = len(gateway.records)

    status, content = await send_raw(gateway, line, headers)

    assert (status, orjson.loads(content)) == expected
    assert len(gateway.records) == invocations_before  # the function never ran


async def test_many_small_headers_over_quota(gateway: LiveGateway) -> None:
    headers = [("Host", "squall.test")] + [(f"X-Part-{index}", "p" * 300) for index in range(40)]

    status, content = await send_raw(gateway, "GET /echo HTTP/1.1", headers)

    assert (status, orjson.loads(content)) == HTTP_API_TOO_LARGE


async def test_long_query_counts_for_http_api(gateway: LiveGateway) -> None:
    # Percent-encoded bytes count as sent, although the event contains them decoded.
    query = "q=" + "%41" * 3500

    status, content = await send_raw(gateway, f"GET /echo?{query} HTTP/1.1", [("Host", "squall.test")])

    assert (status, orjson.loads(content)) == HTTP_API_TOO_LARGE


async def test_long_query_not_counted_for_rest_api(gateway: LiveGateway) -> None:
    # Header values at the quota and a long query: together over it, each within its own quota.
    query = "q=" + "%41" * 2000
    line = f"GET /rest/echo?{query} HTTP/1.1"
    headers = [("Host", "squall.test")]
    headers.append(("X-Fill", filler("", headers, MAX_REQUEST_HEAD_BYTES)))

    status, content = await send_raw(gateway, line, headers)

    assert status == 200
    assert orjson.loads(content)["queryStringParameters"] == {"q": "A" * 2000}


def rest_query_filling(host: str, path: str, url_chars: int) -> str:
    """Return a query that makes https://HOST/PATH?QUERY exactly `url_chars` characters long."""
    used = len("https://") + len(host) + len(path) + len("?q=")
    return "q=" + "a" * (url_chars - used)


async def test_rest_url_at_quota_reaches_function(gateway: LiveGateway) -> None:
    query = rest_query_filling("squall.test", "/rest/echo", MAX_REST_URL_CHARS)

    status, content = await send_raw(gateway, f"GET /rest/echo?{query} HTTP/1.1", [("Host", "squall.test")])

    assert status == 200
    assert len(orjson.loads(content)["queryStringParameters"]["q"]) > 10_000


async def test_rest_url_one_character_over_quota(gateway: LiveGateway) -> None:
    query = rest_query_filling("squall.test", "/rest/echo", MAX_REST_URL_CHARS + 1)
    invocations_before = len(gateway.records)

    status, content = await send_raw(gateway, f"GET /rest/echo?{query} HTTP/1.1", [("Host", "squall.test")])

    assert (status, orjson.loads(content)) == REST_URL_TOO_LONG
    assert len(gateway.records) == invocations_before  # the function never ran


async def test_invoke_api_has_no_header_quota(gateway: LiveGateway) -> None:
    headers = [("Host", "squall.test"), ("X-Fill", "f" * (2 * MAX_REQUEST_HEAD_BYTES)), ("Content-Length", "2")]

    status, content = await send_raw(gateway, "POST /2015-03-31/functions/echo/invocations HTTP/1.1", headers, b"{}")

    assert status == 200
    assert orjson.loads(content)["statusCode"] == 200
