"""Events built from fabricated ASGI scopes, checked against Powertools and AWS samples."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson
import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    APIGatewayProxyEventV2Model,
)

from squall.gateway.apigw import build_event, build_v1_event, build_v2_event
from squall.gateway.apigw_common import format_request_time
from squall.gateway.router import RouteMatch, Router
from squall.manifest.spec import HttpEvent

EVENTS_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance" / "lambda-events"
NOW_MS = 1583348638390  # 04/Mar/2020:19:03:58 UTC
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"

ROUTES = [
    ("hello", HttpEvent("GET", "/hello/{name}")),
    ("static", HttpEvent("GET", "/static")),
    ("proxy", HttpEvent("ANY", "/v1/{proxy+}")),
    ("create", HttpEvent("POST", "/items")),
]

# Keys the AWS samples hold that Squall has no source for: it runs no
# authorizers, no mutual TLS and no stage variables.
V2_ABSENT = {
    "stageVariables",
    "requestContext.authorizer",
    "requestContext.authentication",
}
V1_ABSENT = {"requestContext.authorizer"}
# Keys the samples fill that Squall sends as null, as AWS does without them.
V1_NULL = {"requestContext.identity.clientCert"}
# Objects whose keys are request data, not part of the event's structure.
DATA_MAPS = {
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
}


def make_scope(
    method: str,
    path: str,
    *,
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    client: tuple[str, int] | None = ("192.168.0.1", 51234),
) -> dict[str, Any]:
    """Build an ASGI HTTP scope as uvicorn delivers one; `path` is the percent-encoded path."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode("ascii"),
        "query_string": query,
        "root_path": "",
        "headers": headers if headers is not None else [(b"host", b"localhost:8000")],
        "client": client,
        "server": ("127.0.0.1", 8000),
    }


def routed(scope: dict[str, Any], payload: str) -> RouteMatch:
    router = Router([(name, HttpEvent(event.method, event.path, payload)) for name, event in ROUTES])
    match = router.match(scope["method"], scope["raw_path"].decode("latin-1"))
    if match is None:
        raise LookupError(f"no route for {scope['method']} {scope['path']}")
    return match


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "object", list: "array", str: "string"}[type(value)]


def shape_differences(
    sample: dict[str, Any],
    built: dict[str, Any],
    *,
    absent: set[str] = frozenset(),  # type: ignore[assignment]
    nullable: set[str] = frozenset(),  # type: ignore[assignment]
    prefix: str = "",
) -> list[str]:
    """List every key path where `built` lacks a key of `sample` or has another JSON type there.

    Objects are compared key by key at every depth, except the DATA_MAPS,
    whose keys are request data. Null in the sample accepts any value;
    `nullable` paths may be null in `built`; `absent` paths may be missing.
    """
    differences: list[str] = []
    for key, expected in sample.items():
        path = f"{prefix}{key}"
        if key not in built:
            if path not in absent:
                differences.append(f"{path}: missing")
            continue
        actual = built[key]
        if expected is None or (actual is None and path in nullable):
            continue
        if json_type(actual) != json_type(expected):
            differences.append(f"{path}: expected {json_type(expected)}, got {json_type(actual)}")
        elif isinstance(expected, dict) and path not in DATA_MAPS:
            differences.extend(
                shape_differences(expected, actual, absent=absent, nullable=nullable, prefix=f"{path}.")
            )
    return differences


def load_sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / name).read_text())


def test_shape_differences_reports_paths() -> None:
    sample = {"a": 1, "b": {"c": "x", "d": None}, "e": [1], "headers": {"Header1": "v"}, "f": {}}
    built = {"a": "1", "b": {"d": 5}, "e": [2], "headers": {"other": "v"}, "f": None}

    assert shape_differences(sample, built) == [
        "a: expected number, got string",
        "b.c: missing",
        "f: expected object, got null",
    ]
    assert shape_differences(sample, built, absent={"b.c"}, nullable={"f"}) == ["a: expected number, got string"]


# --- cases shared by both payload versions ------------------------------------

CASES: dict[str, dict[str, Any]] = {
    "get_repeated_query_and_headers": {
        "scope": make_scope(
            "GET",
            "/hello/world",
            query=b"parameter1=value1&parameter1=value2&parameter2=value",
            headers=[
                (b"host", b"api.example.com"),
                (b"user-agent", b"curl/8.5.0"),
                (b"header1", b"value1"),
                (b"header2", b"value1"),
                (b"header2", b"value2"),
            ],
        ),
        "body": b"",
    },
    "get_cookies": {
        "scope": make_scope(
            "GET",
            "/static",
            headers=[(b"host", b"localhost:8000"), (b"cookie", b"cookie1=a; cookie2=b"), (b"cookie", b"cookie3=c")],
        ),
        "body": b"",
    },
    "get_encoded_path_parameter": {
        "scope": make_scope("GET", "/hello/Chester%20Mall"),
        "body": b"",
    },
    "any_greedy_proxy": {
        "scope": make_scope("DELETE", "/v1/users/42/avatar"),
        "body": b"",
    },
    "post_json": {
        "scope": make_scope(
            "POST",
            "/items",
            headers=[
                (b"host", b"localhost:8000"),
                (b"content-type", b"application/json"),
                (b"user-agent", b"python-httpx/0.27"),
            ],
        ),
        "body": b'{"message": "hello world", "username": "tom"}',
    },
    "post_binary": {
        "scope": make_scope(
            "POST",
            "/items",
            headers=[(b"host", b"localhost:8000"), (b"content-type", b"image/png")],
        ),
        "body": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe",
    },
    "post_empty": {
        "scope": make_scope("POST", "/items", headers=[(b"host", b"localhost:8000")], client=None),
        "body": b"",
    },
}


def build(case: str, payload: str) -> dict[str, Any]:
    scope = CASES[case]["scope"]
    return orjson.loads(build_event(scope, CASES[case]["body"], routed(scope, payload), REQUEST_ID, NOW_MS))


# --- payload 2.0 ----------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_v2_event_parses_with_powertools(case: str) -> None:
    event = build(case, "2.0")

    model = APIGatewayProxyEventV2Model(**event)

    assert model.requestContext.requestId == REQUEST_ID
    assert model.rawPath == CASES[case]["scope"]["path"]


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(
    "sample", ["apiGatewayProxyV2Event.json", "apiGatewayProxyV2Event_GET.json", "apiGatewayProxyV2OtherGetEvent.json"]
)
def test_v2_event_shape_matches_sample(case: str, sample: str) -> None:
    event = build(case, "2.0")
    expected = load_sample(sample)
    # AWS leaves these out when the request has none of them.
    absent = set(V2_ABSENT)
    if not event.get("pathParameters"):
        absent.add("pathParameters")
    if "cookies" not in event:
        absent.add("cookies")
    if "queryStringParameters" not in event:
        absent.add("queryStringParameters")
    if not CASES[case]["body"]:
        absent.add("body")

    assert shape_differences(expected, event, absent=absent) == []


def test_v2_event_repeated_values_joined() -> None:
    event = build("get_repeated_query_and_headers", "2.0")

    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /hello/{name}"
    assert event["rawQueryString"] == "parameter1=value1&parameter1=value2&parameter2=value"
    assert event["queryStringParameters"] == {"parameter1": "value1,value2", "parameter2": "value"}
    assert event["headers"]["header1"] == "value1"
    assert event["headers"]["header2"] == "value1,value2"
    assert event["pathParameters"] == {"name": "world"}
    assert "cookies" not in event
    assert "body" not in event
    assert event["isBase64Encoded"] is False


@pytest.mark.parametrize("payload", ["1.0", "2.0"])
@pytest.mark.parametrize(
    ("raw", "text"),
    [("ünï ✓".encode(), "ünï ✓"), (b"caf\xe9", "café")],
    ids=["utf-8", "not utf-8, read as latin-1"],
)
def test_header_values_decoded(payload: str, raw: bytes, text: str) -> None:
    scope = make_scope("GET", "/hello/world", headers=[(b"host", b"localhost:8000"), (b"x-name", raw)])

    event = orjson.loads(build_event(scope, b"", routed(scope, payload), REQUEST_ID, NOW_MS))

    assert event["headers"]["x-name"] == text


def test_v2_event_request_context() -> None:
    event = build("get_repeated_query_and_headers", "2.0")
    context = event["requestContext"]

    assert context["routeKey"] == "GET /hello/{name}"
    assert context["stage"] == "$default"
    assert context["requestId"] == REQUEST_ID
    assert context["domainName"] == "api.example.com"
    assert context["domainPrefix"] == "api"
    assert context["time"] == "04/Mar/2020:19:03:58 +0000"
    assert context["timeEpoch"] == NOW_MS
    assert context["http"] == {
        "method": "GET",
        "path": "/hello/world",
        "protocol": "HTTP/1.1",
        "sourceIp": "192.168.0.1",
        "userAgent": "curl/8.5.0",
    }


def test_v2_event_cookies_split() -> None:
    event = build("get_cookies", "2.0")

    assert event["cookies"] == ["cookie1=a", "cookie2=b", "cookie3=c"]
    assert "cookie" not in event["headers"]
    assert "pathParameters" not in event
    assert "stageVariables" not in event


def test_v2_event_decoded_path() -> None:
    event = build("get_encoded_path_parameter", "2.0")

    assert event["rawPath"] == "/hello/Chester Mall"
    assert event["requestContext"]["http"]["path"] == "/hello/Chester Mall"
    assert event["pathParameters"] == {"name": "Chester Mall"}


def test_v2_event_greedy_proxy() -> None:
    event = build("any_greedy_proxy", "2.0")

    assert event["routeKey"] == "ANY /v1/{proxy+}"
    assert event["requestContext"]["http"]["method"] == "DELETE"
    assert event["pathParameters"] == {"proxy": "users/42/avatar"}


def test_v2_event_json_body_text() -> None:
    event = build("post_json", "2.0")

    assert event["body"] == '{"message": "hello world", "username": "tom"}'
    assert event["isBase64Encoded"] is False
    assert event["headers"]["content-type"] == "application/json"


def test_v2_event_binary_body_base64() -> None:
    event = build("post_binary", "2.0")

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == CASES["post_binary"]["body"]


def test_v2_event_empty_body_left_out() -> None:
    event = build("post_empty", "2.0")

    assert "body" not in event
    assert event["isBase64Encoded"] is False
    assert "queryStringParameters" not in event
    assert event["requestContext"]["http"]["userAgent"] == ""


@pytest.mark.parametrize(
    ("content_type", "body", "is_base64"),
    [
        (b"application/json; charset=utf-8", b'{"a": 1}', False),
        (b"text/plain", "café".encode(), False),
        (b"text/csv", b"a,b\n1,2\n", False),
        (b"application/vnd.api+json", b"{}", False),
        (b"application/xml", b"<a/>", False),
        (b"application/x-www-form-urlencoded", b"a=1&b=2", True),
        (b"multipart/form-data; boundary=x", b"--x--", True),
        (b"application/octet-stream", b"plain ascii", True),
        (b"text/plain", b"\xff\xfe", True),  # claims text but is not UTF-8
        (None, b"no content type", False),
        (None, b"\x00\xff", True),
    ],
)
def test_v2_event_body_encoding_rule(content_type: bytes | None, body: bytes, is_base64: bool) -> None:
    headers = [(b"host", b"localhost")]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    scope = make_scope("POST", "/items", headers=headers)

    event = orjson.loads(build_v2_event(scope, body, routed(scope, "2.0"), REQUEST_ID, NOW_MS))

    assert event["isBase64Encoded"] is is_base64
    decoded = base64.b64decode(event["body"]) if is_base64 else event["body"].encode()
    assert decoded == body


# --- payload 1.0 ----------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_v1_event_parses_with_powertools(case: str) -> None:
    event = build(case, "1.0")

    model = APIGatewayProxyEventModel(**event)

    assert model.requestContext.requestId == REQUEST_ID
    assert model.resource == event["requestContext"]["resourcePath"]


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(
    "sample",
    ["apiGatewayProxyEvent.json", "apiGatewayProxyEventAnotherPath.json", "apiGatewayProxyOtherEvent.json"],
)
def test_v1_event_shape_matches_sample(case: str, sample: str) -> None:
    event = build(case, "1.0")
    expected = load_sample(sample)
    nullable = set(V1_NULL)
    # AWS sends null for these maps when the request has no entries.
    for key in ("queryStringParameters", "multiValueQueryStringParameters", "body"):
        if event[key] is None:
            nullable.add(key)
    if not any(name == b"user-agent" for name, _ in CASES[case]["scope"]["headers"]):
        nullable.add("requestContext.identity.userAgent")

    assert shape_differences(expected, event, absent=V1_ABSENT, nullable=nullable) == []


def test_v1_event_repeated_values() -> None:
    event = build("get_repeated_query_and_headers", "1.0")

    assert event["version"] == "1.0"
    assert event["resource"] == "/hello/{name}"
    assert event["path"] == "/hello/world"
    assert event["httpMethod"] == "GET"
    assert event["headers"]["header2"] == "value2"
    assert event["multiValueHeaders"]["header2"] == ["value1", "value2"]
    assert event["queryStringParameters"] == {"parameter1": "value2", "parameter2": "value"}
    assert event["multiValueQueryStringParameters"] == {"parameter1": ["value1", "value2"], "parameter2": ["value"]}
    assert event["pathParameters"] == {"name": "world"}
    assert event["stageVariables"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False


def test_v1_event_request_context() -> None:
    event = build("get_repeated_query_and_headers", "1.0")
    context = event["requestContext"]

    assert context["resourcePath"] == "/hello/{name}"
    assert context["httpMethod"] == "GET"
    assert context["path"] == "/hello/world"
    assert context["stage"] == "$default"
    assert context["protocol"] == "HTTP/1.1"
    assert context["requestId"] == REQUEST_ID
    assert context["extendedRequestId"] == REQUEST_ID
    assert context["requestTime"] == "04/Mar/2020:19:03:58 +0000"
    assert context["requestTimeEpoch"] == NOW_MS
    assert context["identity"]["sourceIp"] == "192.168.0.1"
    assert context["identity"]["userAgent"] == "curl/8.5.0"
    assert context["identity"]["user"] is None


def test_v1_event_nulls_when_empty() -> None:
    event = build("get_cookies", "1.0")

    assert event["pathParameters"] is None
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["headers"]["cookie"] == "cookie3=c"
    assert event["multiValueHeaders"]["cookie"] == ["cookie1=a; cookie2=b", "cookie3=c"]


def test_v1_event_keeps_path_encoded() -> None:
    event = build("get_encoded_path_parameter", "1.0")

    assert event["path"] == "/hello/Chester%20Mall"
    assert event["requestContext"]["path"] == "/hello/Chester%20Mall"
    # A REST API passes path parameters as the client encoded them.
    assert event["pathParameters"] == {"name": "Chester%20Mall"}


def test_v1_event_greedy_proxy() -> None:
    event = build("any_greedy_proxy", "1.0")

    assert event["resource"] == "/v1/{proxy+}"
    assert event["httpMethod"] == "DELETE"
    assert event["pathParameters"] == {"proxy": "users/42/avatar"}


@pytest.mark.parametrize(
    ("content_type", "body", "is_base64"),
    [
        (b"application/json", b'{"a": 1}', False),
        (b"application/x-www-form-urlencoded", b"a=1&b=2", False),
        (b"image/png", b"\x89PNG\r\n\x1a\n\xff", True),
        (b"text/plain", b"\xff\xfe", True),
    ],
)
def test_v1_event_body_encoding_rule(content_type: bytes, body: bytes, is_base64: bool) -> None:
    scope = make_scope("POST", "/items", headers=[(b"host", b"localhost"), (b"content-type", content_type)])

    event = orjson.loads(build_v1_event(scope, body, routed(scope, "1.0"), REQUEST_ID, NOW_MS))

    assert event["isBase64Encoded"] is is_base64
    decoded = base64.b64decode(event["body"]) if is_base64 else event["body"].encode()
    assert decoded == body


# --- details both versions share --------------------------------------------------


@pytest.mark.parametrize("payload", ["1.0", "2.0"])
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"q=a+b", {"q": ["a b"]}),
        (b"q=a%2Bb", {"q": ["a+b"]}),
        (b"q=caf%C3%A9&empty=&flag", {"q": ["café"], "empty": [""], "flag": [""]}),
        (b"a%20key=1", {"a key": ["1"]}),
        (b"&&x=1&", {"x": ["1"]}),
    ],
)
def test_query_decoding(payload: str, query: bytes, expected: dict[str, list[str]]) -> None:
    scope = make_scope("GET", "/static", query=query)

    event = orjson.loads(build_event(scope, b"", routed(scope, payload), REQUEST_ID, NOW_MS))

    if payload == "1.0":
        assert event["multiValueQueryStringParameters"] == expected
    else:
        assert event["queryStringParameters"] == {key: ",".join(values) for key, values in expected.items()}
    assert event["rawQueryString" if payload == "2.0" else "path"] is not None


@pytest.mark.parametrize("payload", ["1.0", "2.0"])
def test_forwarded_headers_added(payload: str) -> None:
    scope = make_scope(
        "GET", "/static", headers=[(b"host", b"localhost:8000"), (b"x-forwarded-for", b"203.0.113.9")]
    )

    event = orjson.loads(build_event(scope, b"", routed(scope, payload), REQUEST_ID, NOW_MS))

    assert event["headers"]["x-forwarded-for"] == "203.0.113.9, 192.168.0.1"
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["headers"]["x-forwarded-port"] == "8000"


@pytest.mark.parametrize(
    ("host", "domain", "prefix"),
    [
        (b"abc123.execute-api.local:8000", "abc123.execute-api.local", "abc123"),
        (b"[::1]:8000", "[::1]", "[::1]"),
        (b"localhost", "localhost", "localhost"),
    ],
)
def test_domain_from_host_header(host: bytes, domain: str, prefix: str) -> None:
    scope = make_scope("GET", "/static", headers=[(b"host", host)])

    event = orjson.loads(build_v2_event(scope, b"", routed(scope, "2.0"), REQUEST_ID, NOW_MS))

    assert event["requestContext"]["domainName"] == domain
    assert event["requestContext"]["domainPrefix"] == prefix


def test_ipv6_client_parses_with_powertools() -> None:
    scope = make_scope("GET", "/static", client=("::1", 40000))

    v2 = orjson.loads(build_v2_event(scope, b"", routed(scope, "2.0"), REQUEST_ID, NOW_MS))
    v1 = orjson.loads(build_v1_event(scope, b"", routed(scope, "1.0"), REQUEST_ID, NOW_MS))

    assert str(APIGatewayProxyEventV2Model(**v2).requestContext.http.sourceIp) == "::1/128"
    assert str(APIGatewayProxyEventModel(**v1).requestContext.identity.sourceIp) == "::1/128"


@pytest.mark.parametrize(
    ("epoch_ms", "text"),
    [
        (0, "01/Jan/1970:00:00:00 +0000"),
        (1583349317135, "04/Mar/2020:19:15:17 +0000"),  # the pair in the REST API sample event
        (1703980799999, "30/Dec/2023:23:59:59 +0000"),
        (1703980800000, "31/Dec/2023:00:00:00 +0000"),
    ],
)
def test_request_time_format(epoch_ms: int, text: str) -> None:
    assert format_request_time(epoch_ms) == text
    assert format_request_time(epoch_ms) == text  # the cached value
